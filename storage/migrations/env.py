"""Alembic environment: the engine comes from the caller (storage.db.upgrade) or DATABASE_URL."""

import os

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _engine():
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    from storage.db import make_engine

    return make_engine(os.environ.get("DATABASE_URL", "sqlite:///pitchin.db"))


def run_migrations_offline() -> None:
    context.configure(
        url=os.environ.get("DATABASE_URL", "sqlite:///pitchin.db"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # two processes starting at once must not both create the tables
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7163526)")
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
