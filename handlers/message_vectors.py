"""Customer texts and their vectors, as briefings read them.

Every customer message (and every feedback request) gets its local-model vector once, when it
arrives, stored in ``message_vector`` (storage.models.MessageVector); a briefing reads those rows
and never waits for a model. ``week_items`` is the one read: what customers raised between two
moments, each text with its vector and its customer.

What counts as raised: the first customer message of each ticket opened in the window (a
follow-up belongs to its ticket's issue already), and each feedback request logged in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import and_, func, select

from storage.models import MessageVector, SuggestionRequest, Ticket, TicketMessage

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


def week_items(session, since: datetime, until: datetime, model: str) -> list[Item]:
    """Customer messages that opened a ticket, and feedback requests, with ``since <= at < until``,
    oldest first, each with its vector of ``model``. Texts whose vector is not stored (yet) are
    left out: nothing here computes one."""
    first = (select(TicketMessage.ticket_id, func.min(TicketMessage.id).label("id"))
             .where(TicketMessage.kind == "customer").group_by(TicketMessage.ticket_id).subquery())
    messages = session.execute(
        select(TicketMessage.id, Ticket.id, Ticket.customer_email, Ticket.customer_name, Ticket.subject,
               TicketMessage.text, TicketMessage.created_at, MessageVector.vector)
        .join(first, first.c.id == TicketMessage.id)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .join(MessageVector, and_(MessageVector.kind == MESSAGE, MessageVector.ref_id == TicketMessage.id,
                                  MessageVector.model == model))
        .where(Ticket.created_at >= since, Ticket.created_at < until))
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
