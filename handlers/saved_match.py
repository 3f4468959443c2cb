"""Which saved replies fit a ticket: the three closest to what the customer wrote.

A saved reply is matched by its name and its words (variables left out: they are the same in every
reply and say nothing of what it answers), and by the customer messages it was chosen and sent for
before (``SavedReplyExample``): a reply learns the ways customers ask for it. It is scored as a
suggestion card is by its requests (handlers/similarity.py ``CardIndex``): the best cosine of the
customer's message to its own words or any of its examples, mixed with the cosine to their
centroid, whitened once there are enough texts (bench/SAVED_REPLIES.md measures it on banking77,
static and learning from use, against the best cosine alone).

Vectors are the local model's (as briefings', handlers/message_vectors.py) and are kept in
``message_vector``: a customer message's ("message", usually stored by the message-vectors job
already) and each saved reply's ("saved_reply", ``ref_id`` its id, ``created_at`` the reply's
``updated_at``: a vector whose stamp differs from the reply's is of older words and is computed
again). A lookup embeds only what is missing: the customer's message when the job has not got to
it yet, and replies added or edited since the last lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, delete, or_, select

from handlers.message_vectors import MESSAGE, decode, encode, local_embedder, message_text
from handlers.reply_text import PLACEHOLDER, VARIABLE
from handlers.similarity import CardIndex
from storage import repos
from storage.models import MessageVector, SavedReply, SavedReplyExample, Ticket, TicketMessage

SAVED_REPLY = "saved_reply"  # MessageVector.kind of a saved reply's words (ref_id: SavedReply.id)
OFFERED = 3  # how many saved replies "Use a saved reply" offers


def team_and_own_replies(session, person_id: int) -> list[SavedReply]:
    """The saved replies ``person_id`` may use: the team's and their own; their own wins over a team
    reply of the same name. (handlers/saved_replies.py's ``available`` when it exists says the same.)"""
    rows = session.execute(select(SavedReply).where(
        or_(SavedReply.scope == "team", SavedReply.scope == f"person:{person_id}"))
        .order_by(SavedReply.id)).scalars().all()
    by_name: dict[str, SavedReply] = {}
    for reply in rows:
        if reply.name_key not in by_name or reply.scope != "team":
            by_name[reply.name_key] = reply
    return sorted(by_name.values(), key=lambda reply: reply.id)


def usable_replies(session, person_id: int) -> list[SavedReply]:
    try:
        from handlers.saved_replies import available
    except ImportError:
        return team_and_own_replies(session, person_id)
    return list(available(session, person_id))


def match_text(name: str, text: str) -> str:
    """What a saved reply is matched by: its name, then its words without the variables (a
    placeholder's words stay: "[[the refund amount]]" says what the reply is about)."""
    words = PLACEHOLDER.sub(lambda m: m.group(1), VARIABLE.sub(" ", text or ""))
    return f"{(name or '').strip()}\n{' '.join(words.split())}".strip()


class _Stored:
    """The embedder of an index built from stored vectors only: it is never asked to embed."""

    def __init__(self, name: str):
        self.name = name

    def embed(self, texts):
        raise RuntimeError("saved replies are indexed from stored vectors; embed the text first")


def reply_index(model: str, own: np.ndarray, examples: np.ndarray = np.zeros((0, 0)),
                owner: Sequence[int] = ()) -> CardIndex[int]:
    """An index of saved replies by position: reply ``i`` holds its own words (row ``i`` of ``own``)
    and its examples (the rows of ``examples`` whose ``owner`` is ``i``). Scored as suggestion cards
    are (handlers/similarity.py: the best of its texts and their centroid, whitened once there are
    enough of them); bench/saved_replies.py measured it against the best cosine alone."""
    index: CardIndex[int] = CardIndex(_Stored(model))
    index.add_many([(i, "") for i in range(len(own))], vectors=own)
    if len(examples):
        index.add_many([(int(i), "") for i in owner], vectors=examples)
    return index


@dataclass(frozen=True)
class Match:
    reply: SavedReply
    score: float


def customer_message(session, ticket_id: int) -> TicketMessage | None:
    """The message to match: the ticket's latest customer message (the first when none came later)."""
    return session.execute(select(TicketMessage).where(
        TicketMessage.ticket_id == ticket_id, TicketMessage.kind == "customer")
        .order_by(TicketMessage.id.desc()).limit(1)).scalars().first()


def _message_vector(session, embedder, message: TicketMessage) -> np.ndarray:
    model = embedder.name
    blob = session.execute(select(MessageVector.vector).where(
        MessageVector.kind == MESSAGE, MessageVector.ref_id == message.id, MessageVector.model == model)).scalar()
    if blob is not None:
        return decode(blob)
    # not embedded by the message-vectors job yet: the same text it would embed, stored for it
    first = repos.first_customer_message(session, message.ticket_id)
    ticket = session.get(Ticket, message.ticket_id)
    text = message_text(ticket.subject, message.text) if first is not None and first.id == message.id \
        else (message.text or "").strip()
    vector = embedder.embed([text])[0]
    session.execute(repos.insert_for(session, MessageVector).on_conflict_do_nothing(),
                    [{"kind": MESSAGE, "ref_id": message.id, "model": model, "vector": encode(vector),
                      "created_at": message.created_at}])
    return vector


def _reply_vectors(session, embedder, replies: list[SavedReply]) -> np.ndarray:
    """One row per reply, in order; those missing or older than the reply's words computed and stored."""
    model = embedder.name
    stored = {ref_id: (blob, at) for ref_id, blob, at in session.execute(
        select(MessageVector.ref_id, MessageVector.vector, MessageVector.created_at).where(
            MessageVector.kind == SAVED_REPLY, MessageVector.model == model,
            MessageVector.ref_id.in_([reply.id for reply in replies]))).all()}

    def fresh(reply: SavedReply) -> bool:
        found = stored.get(reply.id)
        return found is not None and _same_moment(found[1], reply.updated_at)

    stale = [reply for reply in replies if not fresh(reply)]
    if stale:
        computed = embedder.embed([match_text(reply.name, reply.text) for reply in stale])
        session.execute(delete(MessageVector).where(
            MessageVector.kind == SAVED_REPLY, MessageVector.model == model,
            MessageVector.ref_id.in_([reply.id for reply in stale])))
        session.execute(repos.insert_for(session, MessageVector).on_conflict_do_nothing(),
                        [{"kind": SAVED_REPLY, "ref_id": reply.id, "model": model, "vector": encode(vector),
                          "created_at": reply.updated_at} for reply, vector in zip(stale, computed)])
        for reply, vector in zip(stale, computed):
            stored[reply.id] = (encode(vector), reply.updated_at)
    return np.stack([decode(stored[reply.id][0]) for reply in replies])


def _same_moment(a, b) -> bool:
    """Stored timestamps may come back naive (SQLite) or aware: compare them as UTC."""
    return a is not None and b is not None and a.replace(tzinfo=None) == b.replace(tzinfo=None)


def _example_vectors(session, model: str, replies: list[SavedReply]) -> tuple[np.ndarray, np.ndarray]:
    position = {reply.id: i for i, reply in enumerate(replies)}
    rows = session.execute(
        select(SavedReplyExample.saved_reply_id, MessageVector.vector)
        .join(MessageVector, and_(MessageVector.kind == MESSAGE, MessageVector.model == model,
                                  MessageVector.ref_id == SavedReplyExample.ticket_message_id))
        .where(SavedReplyExample.saved_reply_id.in_(list(position)))).all()
    if not rows:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return (np.stack([decode(blob) for _, blob in rows]),
            np.array([position[reply_id] for reply_id, _ in rows], np.int64))


def closest_replies(ctx, session, person_id: int, ticket_id: int, k: int = OFFERED) -> list[Match]:
    """The ``k`` saved replies ``person_id`` may use that are closest to the ticket's customer
    message, best first ([] when there are none). Needs a writable session: vectors it computes are kept."""
    replies = usable_replies(session, person_id)
    if not replies:
        return []
    message = customer_message(session, ticket_id)
    if message is None:  # a ticket without a customer message (never, from intake): the first replies
        return [Match(reply, 0.0) for reply in replies[:k]]
    embedder = local_embedder(ctx)
    query = _message_vector(session, embedder, message)
    examples, owner = _example_vectors(session, embedder.name, replies)
    index = reply_index(embedder.name, _reply_vectors(session, embedder, replies), examples, owner)
    return [Match(replies[i], score) for i, score in index.similar_to(query, k)]


def learn(session, saved_reply_id: int, ticket_id: int, now) -> None:
    """The saved reply was chosen and sent for this ticket: its customer message becomes an example."""
    message = customer_message(session, ticket_id)
    if message is None:
        return
    session.execute(repos.insert_for(session, SavedReplyExample).on_conflict_do_nothing(),
                    [{"saved_reply_id": saved_reply_id, "ticket_message_id": message.id,
                      "created_at": now}])
