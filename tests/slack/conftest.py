import pytest

from tests.stack import start_stack, stop_stack


@pytest.fixture
async def stack(sqlite_url):
    s = await start_stack(sqlite_url)
    yield s
    await stop_stack(s)


@pytest.fixture
async def any_stack(any_db_url):
    """The same, once on SQLite and once on PostgreSQL."""
    s = await start_stack(any_db_url)
    yield s
    await stop_stack(s)
