"""Shared fixtures: real databases (SQLite file, PostgreSQL schema), a recording chat, a clock."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from handlers.base import Card, MessageRef, ThreadRef
from handlers.context import Context
from storage.db import Database

PG_ENV = "PITCHIN_TEST_DATABASE_URL"


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'pitchin.db'}"


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = pg_base_url()
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests need a server (.ci/run sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def database(sqlite_url):
    db = Database(sqlite_url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def any_database(any_db_url):
    db = Database(any_db_url)
    db.upgrade()
    yield db
    db.dispose()


class FakeClock:
    """Real time plus an offset: tests jump past the undo window or a retry delay at once."""

    def __init__(self):
        self.offset = timedelta()

    def now(self):
        return datetime.now(timezone.utc) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class RecordingChat:
    """A ChatPort that remembers what it was asked to show: the core's tests read it."""

    def __init__(self, platform: str = "test"):
        self.platform = platform
        self.roots: dict[str, Card] = {}  # thread id → current card
        self.threads: dict[str, list[str]] = {}
        self.thread_cards: dict[str, list[Card]] = {}  # thread id → the cards posted in it
        self.marks: list = []  # every DeliveryMark shown, in order
        self.delivery: dict[str, str] = {}  # employee message id → its latest delivery state
        self.updates = 0
        self.fail_next = 0
        self.failure = None  # the DeliveryError the next fail_next calls raise (default: "chat is down")
        self.direct_messages: list[tuple[str, str]] = []  # (user id, text)
        self.channel_posts: list[tuple[str, str, Card | None]] = []  # (channel, text, card)

    def _maybe_fail(self):
        from handlers.base import DeliveryError

        if self.fail_next:
            self.fail_next -= 1
            raise self.failure or DeliveryError("chat is down")

    async def direct(self, tenant, user_id, text, card=None):
        self._maybe_fail()
        self.direct_messages.append((user_id, text))

    async def post_to_channel(self, channel, text, card=None):
        self._maybe_fail()
        self.channel_posts.append((channel, text, card))
        return MessageRef(self.platform, "", channel, f"{channel}-{len(self.channel_posts)}")

    async def post_ticket(self, card):
        self._maybe_fail()
        thread_id = f"root-{len(self.roots) + 1}"
        self.roots[thread_id] = card
        self.threads[thread_id] = []
        return ThreadRef(self.platform, "", "support", thread_id)

    async def update_ticket(self, thread, card):
        self._maybe_fail()
        self.roots[thread.thread_id] = card
        self.updates += 1

    async def post_in_thread(self, thread, text, card=None):
        self._maybe_fail()
        self.threads[thread.thread_id].append(text)
        if card is not None:
            self.thread_cards.setdefault(thread.thread_id, []).append(card)
        return MessageRef(self.platform, "", "support", f"{thread.thread_id}-{len(self.threads[thread.thread_id])}")

    async def mark_delivery(self, mark):
        self._maybe_fail()
        self.marks.append(mark)
        self.delivery[mark.message.message_id] = mark.state


class RecordingCustomers:
    def __init__(self):
        self.sent = []
        self.fail_with = None

    async def send(self, reply):
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(reply)
        return f"recorded for {reply.to_email}"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def ctx(database, clock):
    return Context(db=database, platforms=("test",), undo_seconds=10, mail_domain="example.test", clock=clock)


@pytest.fixture
def model_threads(monkeypatch) -> list[str]:
    """The names of the threads the local model computes in, from now on (it still computes)."""
    import threading

    from handlers.similarity import LocalEmbedder

    threads: list[str] = []
    real = LocalEmbedder.embed

    def recording(self, texts):
        threads.append(threading.current_thread().name)
        return real(self, texts)

    monkeypatch.setattr(LocalEmbedder, "embed", recording)
    return threads
