"""Every customer message and feedback request gets its local-model vector once, a moment after it
arrives (the leader's message-vectors round), and a briefing's read finds it there."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import numpy as np
import pytest
from sqlmodel import select

from handlers import feedback, message_vectors, tickets
from handlers.base import Actor, InboundMessage, utcnow
from handlers.context import Context
from handlers.feedback import Draft
from handlers.feedback_index import request_text
from handlers.message_vectors import MESSAGE, REQUEST, decode, fill_missing, message_text, week_items
from handlers.similarity import LocalEmbedder
from storage.db import Database
from storage.models import MessageVector, SuggestionRequest, SuggestionVector, TicketMessage

ANN = Actor("test", "U-ANN", "Ann")
FLOAT16 = 2e-3  # stored as float16: each number within this of the model's float32


def mail(text, sender="carol@example.com", subject="Double charge", key=None, refs=(), auto_reply=None,
         at=None) -> InboundMessage:
    key = key or f"<{uuid.uuid4().hex}@mail.example.com>"
    return InboundMessage(source="email", external_key=f"email:{key}", sender_email=sender,
                          sender_name=sender.split("@")[0].title(), subject=subject, text=text,
                          received_at=at or utcnow(), email_message_id=key, in_reply_to=tuple(refs),
                          auto_reply=auto_reply)


def vectors(db, kind=None) -> dict[tuple[str, int], MessageVector]:
    with db.transaction(read_only=True) as session:
        rows = session.exec(select(MessageVector)).all()
    return {(r.kind, r.ref_id): r for r in rows if kind is None or r.kind == kind}


def message_ids(db) -> list[int]:
    with db.transaction(read_only=True) as session:
        return list(session.exec(select(TicketMessage.id).order_by(TicketMessage.id)).all())


def request_ids(db) -> list[int]:
    with db.transaction(read_only=True) as session:
        return list(session.exec(select(SuggestionRequest.id).order_by(SuggestionRequest.id)).all())


def model_vector(text: str) -> np.ndarray:
    return LocalEmbedder().embed([text])[0]


class Counting:
    """Counts the texts the local model is asked to embed in this test (it still computes them)."""

    def __init__(self, monkeypatch):
        self.texts: list[str] = []
        real = LocalEmbedder.embed

        def counting(embedder, texts):
            self.texts += list(texts)
            return real(embedder, texts)

        monkeypatch.setattr(LocalEmbedder, "embed", counting)


def test_a_new_tickets_message_gets_the_local_models_vector_of_subject_and_text(ctx):
    first = tickets.intake(ctx, mail("My card was charged twice for the March invoice.", key="<a1@example.com>"))
    follow = tickets.intake(ctx, mail("Any news? Still charged twice.", key="<a2@example.com>", refs=("<a1@example.com>",)))
    assert follow.ticket_id == first.ticket_id and not follow.new_ticket
    assert vectors(ctx.db) == {}  # intake stores the message; the model runs in the round, not here

    filled = fill_missing(ctx)

    assert (filled.messages, filled.requests, filled.more) == (2, 0, False)
    stored = vectors(ctx.db)
    assert set(stored) == {(MESSAGE, first.message_id), (MESSAGE, follow.message_id)}
    assert {row.model for row in stored.values()} == {LocalEmbedder().name}
    expected = model_vector(message_text("Double charge", "My card was charged twice for the March invoice."))
    assert np.allclose(decode(stored[MESSAGE, first.message_id].vector), expected, atol=FLOAT16)
    # a follow-up is embedded by its own words (the subject is its ticket's, said once already)
    assert np.allclose(decode(stored[MESSAGE, follow.message_id].vector), model_vector("Any news? Still charged twice."),
                       atol=FLOAT16)


def test_an_automatic_reply_gets_no_vector(ctx):
    opened = tickets.intake(ctx, mail("Where is my parcel?", key="<p1@example.com>"))
    auto = tickets.intake(ctx, mail("I am out of office until Monday.", key="<p2@example.com>",
                                    refs=("<p1@example.com>",), auto_reply="Auto-Submitted: auto-replied"))
    assert auto.message_id is not None

    fill_missing(ctx)

    assert set(vectors(ctx.db)) == {(MESSAGE, opened.message_id)}


def test_intake_asks_for_a_round_and_the_feedback_that_files_requests_does_too(ctx):
    asked = []
    ctx.texts_arrived = lambda: asked.append("round")
    tickets.intake(ctx, mail("The export button does nothing.", key="<e1@example.com>"))
    tickets.intake(ctx, mail("The export button does nothing.", key="<e1@example.com>"))  # the same mail again
    tickets.intake(ctx, mail("Out of office", key="<e2@example.com>", refs=("<e1@example.com>",),
                             auto_reply="Auto-Submitted: auto-replied"))
    assert asked == ["round"]
    assert feedback.log(ctx, ANN, Draft("Dark mode for the dashboard", customers=("dan@example.com",))).ok
    assert asked == ["round", "round"]


def test_a_feedback_request_gets_the_text_the_suggestion_index_embeds(ctx, monkeypatch):
    reply = feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("erin@example.com",),
                                         quote="I need the invoices in a spreadsheet"))
    assert reply.ok
    with ctx.db.transaction() as session:  # no vector of it in the suggestion index yet
        session.execute(SuggestionVector.__table__.delete())
    model = Counting(monkeypatch)

    filled = fill_missing(ctx)

    (request_id,) = request_ids(ctx.db)
    assert (filled.requests, filled.reused) == (1, 0)
    assert model.texts == [request_text("Export invoices to CSV", "I need the invoices in a spreadsheet")]
    stored = vectors(ctx.db)[REQUEST, request_id]
    assert stored.model == LocalEmbedder().name
    assert np.allclose(decode(stored.vector), model_vector(model.texts[0]), atol=FLOAT16)


def test_a_request_whose_suggestion_vector_exists_reuses_it_without_the_model(ctx, monkeypatch):
    assert feedback.log(ctx, ANN, Draft("Single sign-on with Okta", customers=("fay@example.com",))).ok
    with ctx.db.transaction(read_only=True) as session:
        ctx.suggestions.sync(session)  # the suggestion index embeds the new request (the local model here)
    ctx.suggestions.save(ctx.db)
    (request_id,) = request_ids(ctx.db)
    with ctx.db.transaction(read_only=True) as session:
        index_vector = session.get(SuggestionVector, (request_id, LocalEmbedder().name)).vector
    model = Counting(monkeypatch)

    filled = fill_missing(ctx)

    assert (filled.requests, filled.reused) == (1, 1)
    assert model.texts == []
    assert vectors(ctx.db)[REQUEST, request_id].vector == index_vector


def test_a_fill_is_idempotent_and_newest_first_in_bounded_rounds(ctx, monkeypatch):
    now = utcnow()
    ids = [tickets.intake(ctx, mail(f"Question number {n}", sender=f"c{n}@example.com", subject=f"Topic {n}",
                                    at=now - timedelta(hours=5 - n))).message_id for n in range(5)]

    first = fill_missing(ctx, limit=2)
    assert (first.messages, first.more) == (2, True)
    assert set(vectors(ctx.db)) == {(MESSAGE, ids[4]), (MESSAGE, ids[3])}  # the newest first
    kept = {key: row.vector for key, row in vectors(ctx.db).items()}
    assert fill_missing(ctx, limit=2).messages == 2
    last = fill_missing(ctx, limit=2)
    assert (last.messages, last.more) == (1, False)
    model = Counting(monkeypatch)
    again = fill_missing(ctx, limit=2)

    assert (again.messages, again.requests, again.more) == (0, 0, False)
    assert model.texts == []
    assert set(vectors(ctx.db)) == {(MESSAGE, i) for i in ids}
    assert all(vectors(ctx.db)[key].vector == blob for key, blob in kept.items())


class OtherModel:
    """A model of another name: what a change of PITCHIN_MODEL_DIR looks like to the stored vectors."""

    name = "onnx-sha256-0123456789abcdef"

    def embed(self, texts):
        return np.ones((len(texts), 8), np.float32) / np.sqrt(8)


def test_a_change_of_model_fills_every_text_again_under_the_new_name(ctx, monkeypatch):
    opened = tickets.intake(ctx, mail("The app crashes on start."))
    fill_missing(ctx)
    monkeypatch.setattr(message_vectors, "local_embedder", lambda ctx: OtherModel())

    assert fill_missing(ctx).messages == 1

    with ctx.db.transaction(read_only=True) as session:
        models = set(session.exec(select(MessageVector.model).where(MessageVector.ref_id == opened.message_id)).all())
    assert models == {LocalEmbedder().name, OtherModel.name}


def test_a_failing_model_leaves_intake_working_and_the_next_round_fills(ctx, monkeypatch):
    def broken(embedder, texts):
        raise RuntimeError("onnxruntime: the model file is damaged")

    monkeypatch.setattr(LocalEmbedder, "embed", broken)
    opened = tickets.intake(ctx, mail("I cannot log in since this morning."))
    assert opened.new_ticket
    with pytest.raises(RuntimeError):
        fill_missing(ctx)
    assert vectors(ctx.db) == {}
    monkeypatch.undo()

    assert fill_missing(ctx).messages == 1
    assert set(vectors(ctx.db)) == {(MESSAGE, opened.message_id)}


def test_week_items_reads_first_messages_and_requests_with_their_vectors_and_customers(ctx):
    now = utcnow()
    old = tickets.intake(ctx, mail("Last month's question", sender="old@example.com", at=now - timedelta(days=30)))
    carol = tickets.intake(ctx, mail("My card was charged twice.", key="<w1@example.com>", at=now - timedelta(hours=2)))
    tickets.intake(ctx, mail("Still charged twice!", key="<w2@example.com>", refs=("<w1@example.com>",),
                             at=now - timedelta(hours=1)))
    dan = tickets.intake(ctx, mail("How do I export invoices?", sender="Dan@Example.com", subject="Export",
                                   at=now - timedelta(minutes=30)))
    assert feedback.log(ctx, ANN, Draft("Dark mode please", customers=("Erin <erin@example.com>",),
                                        quote="My eyes hurt at night")).ok
    (request_id,) = request_ids(ctx.db)
    fill_missing(ctx)
    assert len(vectors(ctx.db)) == 5  # follow-ups and old messages have theirs too

    with ctx.db.transaction(read_only=True) as session:
        items = week_items(session, now - timedelta(days=7), now + timedelta(minutes=1), LocalEmbedder().name)

    assert [(i.kind, i.ref_id) for i in items] == [(MESSAGE, carol.message_id), (MESSAGE, dan.message_id),
                                                   (REQUEST, request_id)]
    assert [i.customer for i in items] == ["carol@example.com", "dan@example.com", "erin@example.com"]
    assert items[0].text == "Double charge\nMy card was charged twice."
    assert items[2].text == "My eyes hurt at night"
    stored = vectors(ctx.db)
    for item in items:
        assert np.array_equal(item.vector, decode(stored[item.kind, item.ref_id].vector))
    assert old.message_id not in {i.ref_id for i in items if i.kind == MESSAGE}


def test_two_processes_filling_at_once_store_each_vector_once(pg_url):
    """Both read the same missing texts before either stores (a barrier in the model): the second
    insert of each vector is left alone, and neither fails."""
    dbs = [Database(pg_url) for _ in range(2)]
    dbs[0].upgrade()
    try:
        ctxs = [Context(db=db, platforms=("test",)) for db in dbs]
        opened = [tickets.intake(ctxs[0], mail(f"Problem {n} with my order", sender=f"p{n}@example.com"))
                  for n in range(3)]
        assert feedback.log(ctxs[0], ANN, Draft("Gift cards", customers=("gil@example.com",))).ok
        with dbs[0].transaction() as session:
            session.execute(SuggestionVector.__table__.delete())

        both_read = threading.Barrier(2, timeout=30)
        real = LocalEmbedder.embed

        def after_both_read(embedder, texts):
            both_read.wait()
            return real(embedder, texts)

        results, errors = [], []

        def fill(ctx):
            try:
                results.append(fill_missing(ctx))
            except Exception as exc:  # reported below: the test fails on it
                errors.append(exc)

        LocalEmbedder.embed = after_both_read
        try:
            threads = [threading.Thread(target=fill, args=(c,)) for c in ctxs]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        finally:
            LocalEmbedder.embed = real

        assert errors == []
        assert [(r.messages, r.requests) for r in results] == [(3, 1), (3, 1)]  # both computed all four
        with dbs[0].transaction(read_only=True) as session:
            rows = session.exec(select(MessageVector.kind, MessageVector.ref_id, MessageVector.model)).all()
        assert len(rows) == 4  # one each: a second insert of the same key was left alone, not an error
        assert {(k, i) for k, i, _ in rows} == {(MESSAGE, o.message_id) for o in opened} | {(REQUEST, request_ids(dbs[0])[0])}
    finally:
        for db in dbs:
            db.dispose()
