"""Doctor, database: DATABASE_URL connects (within a few seconds) and its tables are at the newest revision."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.doctor.result import Check

AREA = "Database"
CONNECT_SECONDS = 5  # PostgreSQL's connect_timeout: an unreachable host answers nothing at all
UPGRADE = "run `pitchin db upgrade` (with the same DATABASE_URL) to create or update the tables"


async def checks(settings, send_to: str | None = None) -> list[Check]:
    # SQLAlchemy and alembic block; a thread keeps the other areas running meanwhile
    return await asyncio.to_thread(_checks, settings.database_url)


def _checks(url: str) -> list[Check]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool  # one connection, closed at once: the doctor holds nothing open

    try:
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends: not a URL it knows
        return [Check(AREA, "connect", False, f"DATABASE_URL “{url}” is not a database URL ({exc})",
                      "write it like sqlite:///pitchin.db or postgresql+psycopg://user:password@host/db")]
    connect_args = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        # connecting would create an empty file: say it is missing instead
        if database and database != ":memory:" and not Path(database).expanduser().is_file():
            return [Check(AREA, "connect", False, f"{shown}: the file {database} does not exist yet", UPGRADE)]
    elif parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_SECONDS
    try:
        engine = create_engine(url, connect_args=connect_args, poolclass=NullPool)
    except Exception as exc:  # a driver that is not installed, an option it does not take
        return [Check(AREA, "connect", False, f"{shown}: {type(exc).__name__}: {exc}",
                      "check DATABASE_URL (the driver name after the +, the options after the ?)")]
    try:
        return _connected(engine, shown)
    finally:
        engine.dispose()


def _connected(engine, shown: str) -> list[Check]:
    from storage.db import current_revision

    try:
        revision = current_revision(engine)
    except Exception as exc:  # OperationalError: refused, timed out, wrong password, no such database
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return [Check(AREA, "connect", False, f"{shown}: {reason}",
                      "check DATABASE_URL, and that the database server is running and reachable from here")]
    heads = _heads(engine)
    found = [Check(AREA, "connect", True, shown)]
    if revision in heads:
        found.append(Check(AREA, "tables up to date", True, f"revision {revision}"))
    elif revision is None:
        found.append(Check(AREA, "tables up to date", False, "the database has no Pitchin tables yet", UPGRADE))
    else:
        found.append(Check(AREA, "tables up to date", False,
                           f"at revision {revision}; this version of Pitchin needs {', '.join(heads)}", UPGRADE))
    return found


def _heads(engine) -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())

