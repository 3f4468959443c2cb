"""The few ways a start fails on the machine rather than in the code, said in one line each.

A busy port, a database that cannot be reached and an SQLite file that cannot be written are the
admin's to fix, so `pitchin` prints what is wrong and what to do, and exits with code 2 (bot/cli.py
prints StartError like any ConfigError). Anything not recognised here keeps its traceback: it is a
bug to report, and hiding it would make it harder to find."""

from __future__ import annotations

import errno
import re
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.config import ConfigError
from storage.db import Database


class StartError(ConfigError):
    """One line: what is wrong, then what to do."""

    def __init__(self, problem: str):
        super().__init__(f"Pitchin cannot start: {problem}")


def open_database(url: str) -> Database:
    """The database at DATABASE_URL with one connection made now, so an unreachable server or an
    unwritable SQLite file is said here, in one line, instead of deep inside a migration."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    try:
        database = Database(url)  # SQLite: creates the file's folder if it is missing
    except OSError as exc:
        raise StartError(_sqlite_problem(parsed.database, exc.strerror or str(exc))) from None
    try:
        # a write transaction (SQLite: BEGIN IMMEDIATE, storage/db.py): a read-only file or folder fails here
        with database.engine.begin() as connection:
            connection.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        database.dispose()
        reason = _first_line(exc.orig)
        if sqlite:
            raise StartError(_sqlite_problem(parsed.database, reason)) from None
        raise StartError(_server_problem(parsed, reason)) from None
    return database


def _sqlite_problem(path: str | None, reason: str) -> str:
    where = Path(path or "").expanduser().resolve()
    return (f"cannot write the SQLite database {where} ({reason}): its folder {where.parent} must exist or be "
            f"creatable, and be writable by this user; choose another path in DATABASE_URL, "
            f"e.g. sqlite:///pitchin.db")


def _server_problem(parsed, reason: str) -> str:
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    lowered = reason.lower()
    if "refused" in lowered or "timeout" in lowered or "timed out" in lowered or "no route" in lowered:
        advice = "start it or correct the host and port in DATABASE_URL"
    elif "translate host name" in lowered or "name or service" in lowered or "nodename" in lowered:
        advice = "correct the host name in DATABASE_URL"
    else:
        advice = "correct DATABASE_URL (user, password, database name)"
    return f"cannot connect to the database at {where} ({reason}): {advice}; `pitchin doctor` checks it"


def _first_line(exc: BaseException) -> str:
    """psycopg's 'connection failed: connection to server at "h", port 1 failed: Connection refused'
    → 'connection refused'; sqlite's 'unable to open database file' as it is."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = re.sub(r"^(FATAL|ERROR):\s*", "", text.rsplit("failed: ", 1)[-1].strip())
    return reason[:1].lower() + reason[1:]


@contextmanager
def explain_listen(host: str, port: int) -> Iterator[None]:
    """Opening the HTTP port: a port in use, an address this machine does not have, a port only root may open."""
    try:
        yield
    except socket.gaierror:
        raise StartError(f"HOST is “{host}”, which is not a name or address of this machine: set HOST to "
                         f"127.0.0.1 (this machine only) or 0.0.0.0 (every network)") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartError(f"port {port} on {host} is in use (another pitchin serve?): stop it or set PORT "
                             f"to a free port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise StartError(f"HOST is {host}, which is not an address of this machine: set HOST to one of its "
                             f"addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every network)") from None
        if exc.errno == errno.EACCES:
            raise StartError(f"port {port} on {host} needs administrator rights: set PORT to 1024 or above "
                             f"(and put a proxy on port {port} if you need it)") from None
        raise
