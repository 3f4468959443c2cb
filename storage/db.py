"""Engine and sessions from DATABASE_URL: SQLite by default (WAL), PostgreSQL for scale."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT_SECONDS = 5  # PostgreSQL; ?connect_timeout= in DATABASE_URL overrides it


class Database:
    """One engine and a way to open short transactions on it."""

    def __init__(self, url: str, echo: bool = False):
        self.url = url
        self.engine: Engine = make_engine(url, echo=echo)
        self._reader = self.engine.execution_options(pitchin_read_only=True)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        ``read_only`` lets SQLite readers start without the write lock (plain BEGIN), so they do not
        queue behind writers; a read-only transaction that writes anyway fails loudly."""
        bind = self._reader if read_only else self.engine
        with Session(bind, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run blocking database work from async code.

        SQLite lives in this process and takes one writer at a time anyway, so its work runs right
        here: a hop to a worker thread only adds GIL contention (measured in bench/: about 200
        against 140 messages/s). PostgreSQL work waits on the network and runs in worker threads,
        so many statements can be under way at once."""
        if self.is_sqlite:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    def upgrade(self) -> None:
        """Bring the schema up to date (an empty database gets every table)."""
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            pool_size=8,
            max_overflow=16,
        )
        _sqlite_pragmas(engine)
        return engine
    # libpq waits for an unanswering server as long as TCP does (minutes): a few seconds are enough
    # for a database on the network, and let a start that cannot reach it say so (bot/start_errors.py)
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args=connect_args)


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so two writers queue up instead of failing.

    pysqlite's own transaction handling is switched off (isolation_level=None) and every
    transaction starts with BEGIN IMMEDIATE: a read that later writes cannot lose a race with
    another writer (SQLITE_BUSY_SNAPSHOT), it waits for the write lock instead (busy_timeout).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("pitchin_read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
