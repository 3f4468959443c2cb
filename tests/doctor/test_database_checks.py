"""`pitchin doctor`, database: connects, and the tables are at the newest migration; ✗ says what to run."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from bot.config import Settings
from bot.doctor import database
from storage.db import Database, alembic_config, upgrade
from tests.doctor import closed_port


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


async def test_an_upgraded_database_is_all_ticks(any_database):
    checks = by_name(await database.checks(Settings(database_url=any_database.url)))
    assert checks["connect"].ok and checks["tables up to date"].ok
    assert checks["tables up to date"].detail.startswith("revision ")


async def test_the_password_is_not_printed(pg_url):
    url = pg_url.replace("postgres@", "postgres:hunter2@", 1)
    (check, *_) = await database.checks(Settings(database_url=url))
    assert "hunter2" not in check.line()


async def test_an_unreachable_server_says_check_the_url():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test"
    (check,) = await database.checks(Settings(database_url=url))
    assert not check.ok and check.name == "connect"
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}" in check.detail
    assert "database server is running and reachable" in check.advice


async def test_a_database_behind_the_code_says_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    revisions = list(ScriptDirectory.from_config(alembic_config(None)).walk_revisions())
    first = revisions[-1].revision  # walk_revisions goes from the head down
    db = Database(url)
    upgrade(db.engine, first)
    db.dispose()
    checks = by_name(await database.checks(Settings(database_url=url)))
    assert checks["connect"].ok
    tables = checks["tables up to date"]
    assert not tables.ok and f"at revision {first}; this version of Pitchin needs {revisions[0].revision}" in tables.detail
    assert "`pitchin db upgrade`" in tables.advice


async def test_an_empty_database_and_a_missing_file_say_upgrade(tmp_path):
    empty = tmp_path / "empty.db"
    Database(f"sqlite:///{empty}").dispose()
    empty.touch()
    checks = by_name(await database.checks(Settings(database_url=f"sqlite:///{empty}")))
    assert checks["tables up to date"].detail == "the database has no Pitchin tables yet"

    missing = tmp_path / "nowhere.db"
    (check,) = await database.checks(Settings(database_url=f"sqlite:///{missing}"))
    assert not check.ok and "does not exist yet" in check.detail and "`pitchin db upgrade`" in check.advice
    assert not missing.exists()  # the doctor looks; it does not create the file
