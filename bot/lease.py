"""The scheduler's leader lease: a row in the database that one process renews every few seconds.

Why a lease row and not a PostgreSQL advisory lock: a session lock lives as long as its connection,
and nobody watches the connection; terminating that backend freed the lock while the old leader went
on running jobs, so two processes led. A frozen or cut-off leader also kept its connection open,
and with it the lock, for as long as TCP let it: nobody led. A lease runs out on its own.

How two processes never both lead: the lease's expiry is set by the database's clock (so hosts
whose clocks differ agree), and its holder stops trusting it ``margin`` seconds before that expiry,
counting from just before it asked for the renewal on its own monotonic clock, which keeps counting
while the process is frozen. A stand-by can only take the lease once it has run out, and by then the
old holder has given up. For the rare overlap the monotonic clock cannot exclude (a job already
under way), every scheduled run is keyed by its period (handlers.scheduled.run_once).

Works the same on SQLite (several processes on one host share the file).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from typing import Callable

from sqlalchemy.engine import make_url

from storage import repos
from storage.db import Database

SCHEDULER = "scheduler"


class Lease:
    """Held by ``owner`` while ``held()``; ``renew()`` takes or renews it (a short blocking transaction)."""

    def __init__(self, db: Database, name: str = SCHEDULER, *, seconds: float = 15.0, margin: float = 3.0,
                 monotonic: Callable[[], float] = time.monotonic):
        if not 0 < margin < seconds:
            raise ValueError(f"the margin ({margin} s) must be shorter than the lease ({seconds} s)")
        self.name, self.seconds, self.margin = name, seconds, margin
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._monotonic = monotonic
        self._valid_until: float | None = None
        self._own_db = db.is_postgres
        # on PostgreSQL its own connection, named so that pg_stat_activity shows which process leads
        # and, when the database cannot be reached, failing in seconds rather than at TCP's pace
        self.db = Database(_named(db.url, f"pitchin scheduler {os.getpid()}")) if self._own_db else db

    def held(self) -> bool:
        return self._valid_until is not None and self._monotonic() < self._valid_until

    def seconds_left(self) -> float:
        return max(0.0, self._valid_until - self._monotonic()) if self._valid_until is not None else 0.0

    def renew(self) -> bool:
        """Take the lease or renew it: True when this process holds it now. A database error is
        raised; the lease then stays trusted until it runs out, as it would for a stand-by."""
        asked_at = self._monotonic()
        with self.db.transaction() as session:
            got = repos.take_lease(session, self.name, self.owner, self.seconds)
        self._valid_until = asked_at + self.seconds - self.margin if got else None
        return got

    def release(self) -> None:
        """Let a stand-by take over now rather than when the lease runs out (a clean shutdown)."""
        self._valid_until = None
        with self.db.transaction() as session:
            repos.release_lease(session, self.name, self.owner)

    def close(self) -> None:
        if self._own_db:
            self.db.dispose()


def _named(url: str, application_name: str) -> str:
    parsed = make_url(url)
    query = {"application_name": application_name[:63], "connect_timeout": "5",
             # a leader cut off from the database notices within seconds, not TCP's minutes
             "keepalives_idle": "5", "keepalives_interval": "2", "keepalives_count": "3",
             "tcp_user_timeout": "10000"}
    return parsed.update_query_dict({k: v for k, v in query.items() if k not in parsed.query}) \
        .render_as_string(hide_password=False)
