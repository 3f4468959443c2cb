"""Each request's embedding is kept in the database: a restart, another process or a rebuild after a
merge reads it instead of running the model again (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import numpy as np
from sqlmodel import select

from handlers import feedback, registry, similarity, tickets
from handlers.base import Actor, InboundMessage, utcnow
from handlers.context import Context
from handlers.feedback import Draft
from handlers.feedback_index import SuggestionIndex
from handlers.similarity import LocalEmbedder, normalize_rows
from storage.models import SuggestionVector

ANN = Actor("test", "U-ANN", "Ann")
IDEAS = ["Export invoices to CSV", "Dark mode for the dashboard", "Single sign-on with Okta",
         "A mobile app for Android", "Webhooks when a ticket closes"]


class Counting:
    """The local model, counting the texts it is asked to embed."""

    def __init__(self, name: str | None = None):
        self.inner = LocalEmbedder()
        self.name = name or self.inner.name
        self.texts = 0

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


class Hashing:
    """Another model (another name, another size): its vectors are kept apart."""

    name = "hashing-32"

    def embed(self, texts):
        out = np.zeros((len(texts), 32), np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, sum(map(ord, word)) % 32] += 1
        return normalize_rows(out)


def stored(db, model=None):
    with db.transaction(read_only=True) as s:
        rows = s.exec(select(SuggestionVector)).all()
    return [r for r in rows if model is None or r.model == model]


def log_ideas(db, embedder):
    ctx = Context(db=db, embedder=embedder)
    for idea in IDEAS:
        assert feedback.log(ctx, ANN, Draft(idea)).text.startswith("New card")
    return ctx


def test_a_restart_reads_the_vectors_instead_of_embedding_again(any_database):
    ctx = log_ideas(any_database, Counting())
    # the last request is embedded by the next lookup; a read-only one keeps it for `save`
    with any_database.transaction(read_only=True) as s:
        before = ctx.suggestions.similar(s, "export my invoices as a spreadsheet")
    assert len(stored(any_database)) == len(IDEAS) - 1
    assert ctx.suggestions.save(any_database) == 1
    assert len(stored(any_database, LocalEmbedder.name)) == len(IDEAS)

    restarted = Counting()
    index = SuggestionIndex(restarted)
    with any_database.transaction(read_only=True) as s:
        after = index.similar(s, "export my invoices as a spreadsheet")
    assert restarted.texts == 1  # the query only: every request came from the database
    assert index.embedded == 0
    assert [card for card, _ in after] == [card for card, _ in before]
    assert np.allclose([score for _, score in after], [score for _, score in before], atol=2e-3)


def test_two_processes_storing_the_same_vectors_do_not_collide(any_database):
    log_ideas(any_database, Counting())
    first, second = SuggestionIndex(Counting()), SuggestionIndex(Counting())
    for index in (first, second):  # both read before either writes
        with any_database.transaction(read_only=True) as s:
            index.sync(s)
    first.save(any_database)
    assert second.save(any_database) >= 1  # written, or left alone where the other was first
    assert len(stored(any_database)) == len(IDEAS)


def test_each_model_keeps_its_own_vectors(any_database):
    log_ideas(any_database, Counting())
    other = SuggestionIndex(Hashing())
    with any_database.transaction() as s:  # a writing lookup stores what it computed at once
        assert other.similar(s, "dark mode")[0][0] == 2
    assert len(stored(any_database, "hashing-32")) == len(IDEAS)
    assert all(len(row.vector) == 32 * 2 for row in stored(any_database, "hashing-32"))
    assert all(len(row.vector) == 384 * 2 for row in stored(any_database, LocalEmbedder.name))


def new_pitchin(sqlite_url: str):
    from bot.app import Pitchin
    from bot.config import Settings
    from tests.conftest import RecordingCustomers

    settings = Settings(database_url=sqlite_url, host="127.0.0.1", port=0, from_email="support@acme.test",
                        intake_token="t", maildir="maildir")
    return Pitchin(settings, customers=RecordingCustomers())


async def start_until_the_index_is_ready(pitchin, caplog) -> None:
    """Start Pitchin as `pitchin serve` does, wait (with a deadline) for its warm-up, then stop it."""
    with caplog.at_level(logging.INFO, logger="pitchin"):
        await pitchin.start(http=True, worker=False, scheduler=False)
        try:
            deadline = time.monotonic() + 60
            while "Suggestion index ready" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text
                await asyncio.sleep(0.05)
        finally:
            await pitchin.stop()


async def test_pitchin_stores_every_vector_when_it_starts(sqlite_url, caplog):
    pitchin = new_pitchin(sqlite_url)
    log_ideas(pitchin.db, Counting())  # the last request has no vector yet
    assert len(stored(pitchin.db)) == len(IDEAS) - 1
    await start_until_the_index_is_ready(pitchin, caplog)
    assert "Suggestion index ready: 5 cards, 5 requests (1 embedded now and stored)" in caplog.text
    assert len(stored(pitchin.db, LocalEmbedder.name)) == len(IDEAS)


async def test_pitchin_loads_the_local_model_at_start_even_with_no_feedback_yet(sqlite_url, caplog, monkeypatch):
    monkeypatch.setattr(similarity, "_LOADED", {})
    await start_until_the_index_is_ready(new_pitchin(sqlite_url), caplog)
    assert "Suggestion index ready: 0 cards, 0 requests" in caplog.text
    assert similarity._LOADED  # loaded before the line above was logged


class Held:
    """The local model, but each call waits until the test lets it go (a slow first embedding)."""

    name = LocalEmbedder.name

    def __init__(self):
        self.inner, self.entered, self.go = LocalEmbedder(), threading.Event(), threading.Event()

    def embed(self, texts):
        self.entered.set()
        assert self.go.wait(60), "the test never let the embedding go"
        return self.inner.embed(texts)


def test_logging_feedback_while_it_embeds_does_not_hold_up_other_writers(database):
    """A lookup may embed for a long time (the first start after an upgrade); ticket intake and the
    rest must go on writing meanwhile, on SQLite too, where one writer holds the database."""
    held = Held()
    ctx = Context(db=database, embedder=held)
    logging_done: list = []
    logger = threading.Thread(target=lambda: logging_done.append(feedback.log(ctx, ANN, Draft("Dark mode"))))
    logger.start()
    try:
        assert held.entered.wait(30)  # /feedback is embedding now
        ticket = tickets.intake(ctx, InboundMessage(
            source="email", external_key="email:<w1@x>", sender_email="zoe@example.com", sender_name="Zoe",
            subject="Hello", text="A customer writes in meanwhile", received_at=utcnow(),
            email_message_id="<w1@x>"))
        # written while /feedback still waits for its embedding (before, SQLite refused it after 30 s)
        assert ticket.ticket_id and not logging_done
    finally:
        held.go.set()
        logger.join(60)
    (reply,) = logging_done
    assert reply.text.startswith("New card #1 · Dark mode")


class Gated:
    """The local model under another name (so none of its vectors is stored yet); a batch of several
    texts (the background fill's) waits until the test opens the gate, a single query does not."""

    name = "minilm-gated"

    def __init__(self):
        self.inner, self.batch_waiting, self.gate = LocalEmbedder(), threading.Event(), threading.Event()

    def embed(self, texts):
        if len(texts) > 1:
            self.batch_waiting.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return self.inner.embed(texts)


def test_a_large_backlog_is_filled_in_the_background_while_lookups_answer(database, monkeypatch):
    """After a change of model (or an upgrade) every vector is missing: lookups answer at once from
    what is indexed, say so, and the vectors are computed and stored in the background."""
    import handlers.feedback_index as feedback_index

    log_ideas(database, Counting())  # five cards, their vectors stored for another model only
    monkeypatch.setattr(feedback_index, "INLINE", 2)  # more missing than a lookup computes itself
    gated = Gated()
    ctx = Context(db=database, embedder=gated)
    with database.transaction(read_only=True) as s:
        assert ctx.suggestions.similar(s, "dark mode") == []  # nothing indexed yet, and no waiting
    assert ctx.suggestions.behind == len(IDEAS)
    assert gated.batch_waiting.wait(30)  # the fill has started, in the background

    reply = feedback.log(ctx, ANN, Draft("A dark theme for the dashboard"))
    assert reply.text.startswith("New card #6 · A dark theme for the dashboard")
    assert "Pitchin is still reading 5 earlier requests" in reply.text and "merge them" in reply.text
    search = registry.run_feedback(ctx, ANN, "search okta")
    assert "Pitchin is still reading 6 earlier requests" in search.text

    gated.gate.set()
    deadline = time.monotonic() + 60
    while len(stored(database, "minilm-gated")) < len(IDEAS) + 1:
        assert time.monotonic() < deadline, "the background fill did not store every vector"
        time.sleep(0.05)
    with database.transaction(read_only=True) as s:
        found = ctx.suggestions.similar(s, "dark mode please")
    assert ctx.suggestions.behind == 0 and {card for card, _ in found[:2]} == {2, 6}
    assert "still reading" not in registry.run_feedback(ctx, ANN, "search okta").text
