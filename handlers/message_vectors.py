"""Customer texts and their vectors, as briefings read them.

Every customer message (and every feedback request) gets its local-model vector once, when it
arrives, stored in ``message_vector`` (storage.models.MessageVector); a briefing reads those rows
and never waits for a model. ``week_items`` is the one read: what customers raised between two
moments, each text with its vector and its customer.

What counts as raised: the first customer message of each ticket opened in the window (a
follow-up belongs to its ticket's issue already), and each feedback request logged in it.

The write side is ``fill_missing``: one round of the leader's "message-vectors" job
(bot/scheduler.py). Intake itself never runs the model (on SQLite it runs on the event loop, and
nothing expensive may come before a mail is stored): it stores the message and tells the job, which
embeds it a moment later. The same round fills the history after an upgrade or a change of model
(PITCHIN_MODEL_DIR): whatever has no vector of the current local model is embedded, newest first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from handlers.feedback_index import request_text
from handlers.similarity import LocalEmbedder
from storage import repos
from storage.models import MessageVector, SuggestionRequest, SuggestionVector, Ticket, TicketMessage

MESSAGE = "message"  # MessageVector.kind of a ticket's customer message (ref_id: TicketMessage.id)
REQUEST = "request"  # MessageVector.kind of a feedback request (ref_id: SuggestionRequest.id)


def encode(vector: np.ndarray) -> bytes:
    """Stored as little-endian float16, as the suggestion vectors are (768 bytes for 384 numbers)."""
    return np.asarray(vector, "<f2").tobytes()


def decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, "<f2").astype(np.float32)


def message_text(subject: str, text: str) -> str:
    """What is embedded for a ticket's first message: the subject (often the question itself) and
    the message, the subject left out when the message starts with it."""
    subject, text = (subject or "").strip(), (text or "").strip()
    if not subject or text.lower().startswith(subject.lower()):
        return text
    return f"{subject}\n{text}" if text else subject


@dataclass(frozen=True)
class Item:
    """One thing a customer raised in the window, with its stored vector."""

    kind: str  # MESSAGE or REQUEST
    ref_id: int
    ticket_id: int | None  # the ticket it came in on (a request logged from a ticket's thread has one)
    customer: str  # who raised it: a lower-cased address, or "request:<id>" for feedback with none
    customer_name: str
    text: str
    at: datetime  # aware, UTC
    vector: np.ndarray
    card_id: int | None = None  # the suggestion card a feedback request is on


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


HISTORY = timedelta(days=90)  # earlier messages whose mean is the briefing's centre (issue_groups.history_centre)
HISTORY_READ = 2000  # the most recent of them are enough for a mean (a few milliseconds to read)


def history_vectors(session, before: datetime, model: str) -> np.ndarray:
    """The vectors of ``model`` of customer texts that arrived in the ``HISTORY`` before ``before``
    (the most recent ``HISTORY_READ``): what customers usually write, for centring a week on."""
    rows = session.execute(select(MessageVector.vector).where(
        MessageVector.model == model, MessageVector.kind.in_((MESSAGE, REQUEST)),  # customers' words, not saved replies
        MessageVector.created_at >= before - HISTORY, MessageVector.created_at < before)
        .order_by(MessageVector.created_at.desc()).limit(HISTORY_READ)).scalars().all()
    return np.stack([decode(blob) for blob in rows]) if rows else np.zeros((0, 0), np.float32)


def week_items(session, since: datetime, until: datetime, model: str) -> list[Item]:
    """Customer messages that opened a ticket, and feedback requests, with ``since <= at < until``,
    oldest first, each with its vector of ``model``. Texts whose vector is not stored (yet) are
    left out: nothing here computes one."""
    # "no earlier customer message in its ticket" rather than a join on each ticket's min(id): on
    # PostgreSQL tables without statistics yet (after a bulk import) the planner looped over that
    # grouping once a row (64 s for 10,000 messages); each probe here is one index lookup
    earlier = aliased(TicketMessage)
    messages = session.execute(
        select(TicketMessage.id, Ticket.id, Ticket.customer_email, Ticket.customer_name, Ticket.subject,
               TicketMessage.text, TicketMessage.created_at, MessageVector.vector)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .join(MessageVector, and_(MessageVector.kind == MESSAGE, MessageVector.ref_id == TicketMessage.id,
                                  MessageVector.model == model))
        .where(TicketMessage.kind == "customer", Ticket.created_at >= since, Ticket.created_at < until,
               ~exists().where(earlier.ticket_id == TicketMessage.ticket_id, earlier.kind == "customer",
                               earlier.id < TicketMessage.id)))
    items = [Item(MESSAGE, mid, tid, (email or "").lower() or f"ticket:{tid}", name or "",
                  message_text(subject, text), _utc(at), decode(blob))
             for mid, tid, email, name, subject, text, at, blob in messages]
    requests = session.execute(
        select(SuggestionRequest.id, SuggestionRequest.ticket_id, SuggestionRequest.customer_email,
               SuggestionRequest.customer_name, SuggestionRequest.text, SuggestionRequest.quote,
               SuggestionRequest.created_at, SuggestionRequest.card_id, MessageVector.vector)
        .join(MessageVector, and_(MessageVector.kind == REQUEST, MessageVector.ref_id == SuggestionRequest.id,
                                  MessageVector.model == model))
        .where(SuggestionRequest.created_at >= since, SuggestionRequest.created_at < until))
    items += [Item(REQUEST, rid, tid, (email or "").lower() or f"request:{rid}", name or "",
                   (quote or text or "").strip(), _utc(at), decode(blob), card_id)
              for rid, tid, email, name, text, quote, at, card_id, blob in requests]
    return sorted(items, key=lambda item: (item.at, item.kind, item.ref_id))


# ---------------------------------------------------------------- the write side

log = logging.getLogger("pitchin.message_vectors")

FILL_BATCH = 256  # texts a round embeds (about a second of the local model here) and stores in one transaction


@dataclass(frozen=True)
class Filled:
    """What one ``fill_missing`` round did."""

    model: str
    messages: int = 0  # ticket messages given their vector
    requests: int = 0  # feedback requests given theirs
    reused: int = 0  # of those requests, how many had it in the suggestion index already (no model run)
    more: bool = False  # the round was full: more texts may be waiting for the next one


@dataclass(frozen=True)
class _Missing:
    kind: str
    ref_id: int
    text: str
    at: datetime
    stored: bytes | None = None  # the suggestion index's vector of the same model, when it has one


def local_embedder(ctx):
    """The local model every message vector is computed with (``ctx.embedder``, OpenAI's when
    configured, is for suggestions only: briefings must work offline and compare like with like)."""
    return LocalEmbedder(ctx.local_model)


def missing(session, model: str, limit: int) -> list[_Missing]:
    """Up to ``limit`` customer texts without a vector of ``model``, newest first.

    Newest first: a briefing is about the last weeks, so after an upgrade (or a change of model)
    with a long history to fill, this week's messages get their vectors in the first seconds, and a
    mail that arrives meanwhile waits one round, not behind the whole history."""
    messages = session.execute(
        select(TicketMessage.id, TicketMessage.ticket_id, TicketMessage.text, TicketMessage.created_at, Ticket.subject)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .outerjoin(MessageVector, and_(MessageVector.kind == MESSAGE, MessageVector.ref_id == TicketMessage.id,
                                       MessageVector.model == model))
        .where(TicketMessage.kind == "customer", MessageVector.ref_id.is_(None))
        .order_by(TicketMessage.id.desc()).limit(limit)).all()
    first = dict(session.execute(
        select(TicketMessage.ticket_id, func.min(TicketMessage.id))
        .where(TicketMessage.kind == "customer", TicketMessage.ticket_id.in_(sorted({row[1] for row in messages})))
        .group_by(TicketMessage.ticket_id)).all()) if messages else {}
    found = [_Missing(MESSAGE, mid, message_text(subject, text) if first.get(tid) == mid else (text or "").strip(),
                      _utc(at))
             for mid, tid, text, at, subject in messages]
    requests = session.execute(
        select(SuggestionRequest.id, SuggestionRequest.text, SuggestionRequest.quote, SuggestionRequest.created_at,
               SuggestionVector.vector)
        .outerjoin(MessageVector, and_(MessageVector.kind == REQUEST, MessageVector.ref_id == SuggestionRequest.id,
                                       MessageVector.model == model))
        .outerjoin(SuggestionVector, and_(SuggestionVector.request_id == SuggestionRequest.id,
                                          SuggestionVector.model == model))
        .where(MessageVector.ref_id.is_(None))
        .order_by(SuggestionRequest.id.desc()).limit(limit)).all()
    # the text the suggestion index embeds, so its stored vectors of the same model are reused
    found += [_Missing(REQUEST, rid, request_text(text or "", quote or ""), _utc(at), blob)
              for rid, text, quote, at, blob in requests]
    return sorted(found, key=lambda m: (m.at, m.kind, m.ref_id), reverse=True)[:limit]


def fill_missing(ctx, limit: int = FILL_BATCH) -> Filled:
    """Embed and store up to ``limit`` customer texts that have no vector of the local model yet.

    Reads in one short transaction, runs the model outside any, stores in another: no lock is held
    while the model computes. Idempotent, and safe with a second process doing the same (a vector
    another one stored first is left alone). A model that fails raises, having stored nothing: the
    next round tries again."""
    embedder = local_embedder(ctx)
    model = embedder.name
    with ctx.db.transaction(read_only=True) as session:
        todo = missing(session, model, limit + 1)
    more, todo = len(todo) > limit, todo[:limit]
    if not todo:
        return Filled(model)
    started = time.monotonic()
    compute = [m for m in todo if m.stored is None]
    computed = iter(embedder.embed([m.text for m in compute]) if compute else ())
    rows = [{"kind": m.kind, "ref_id": m.ref_id, "model": model, "created_at": m.at,
             "vector": m.stored if m.stored is not None else encode(next(computed))} for m in todo]
    with ctx.db.transaction() as session:
        session.execute(repos.insert_for(session, MessageVector).on_conflict_do_nothing(), rows)
    filled = Filled(model, messages=sum(m.kind == MESSAGE for m in todo), requests=sum(m.kind == REQUEST for m in todo),
                    reused=len(todo) - len(compute), more=more)
    log.info("Message vectors (%s): %d messages and %d requests stored (%d embedded in %.1f s, %d reused from the "
             "suggestion index)%s", model, filled.messages, filled.requests, len(compute), time.monotonic() - started,
             filled.reused, "; more are waiting" if more else "")
    return filled
