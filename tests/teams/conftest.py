import pytest

from tests.teams.stack import start_teams_stack, stop_teams_stack


@pytest.fixture
async def teams_stack(sqlite_url):
    s = await start_teams_stack(sqlite_url)
    yield s
    await stop_teams_stack(s)


@pytest.fixture
async def any_teams_stack(any_db_url):
    """The same, once on SQLite and once on PostgreSQL."""
    s = await start_teams_stack(any_db_url)
    yield s
    await stop_teams_stack(s)
