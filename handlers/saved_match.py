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
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import and_, delete, select

from handlers import saved_replies
from handlers.message_vectors import MESSAGE, decode, encode, local_embedder, message_text
from handlers.reply_text import PLACEHOLDER, VARIABLE
from handlers.similarity import CardIndex
from storage import repos
from storage.models import MessageVector, SavedReply, SavedReplyExample, SavedReplyUse, Ticket, TicketMessage

SAVED_REPLY = "saved_reply"  # MessageVector.kind of a saved reply's words (ref_id: SavedReply.id)
OFFERED = 3  # how many saved replies "Use a saved reply" offers


def usable_replies(session, person_id: int) -> list[SavedReply]:
    """The saved replies ``person_id`` may use: the team's and their own (theirs winning over a team
    reply of the same name), removed ones left out."""
    return list(saved_replies.available(session, person_id))


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
class Candidate:
    """A saved reply as a lookup read it (plain values: usable after its transaction)."""

    id: int
    name: str
    text: str
    updated_at: object


@dataclass(frozen=True)
class Match:
    reply: Candidate
    score: float


def customer_message(session, ticket_id: int) -> TicketMessage | None:
    """The message to match: the ticket's latest customer message (the first when none came later)."""
    return session.execute(select(TicketMessage).where(
        TicketMessage.ticket_id == ticket_id, TicketMessage.kind == "customer")
        .order_by(TicketMessage.id.desc()).limit(1)).scalars().first()


def _same_moment(a, b) -> bool:
    """Stored timestamps may come back naive (SQLite) or aware: compare them as UTC."""
    return a is not None and b is not None and a.replace(tzinfo=None) == b.replace(tzinfo=None)


@dataclass
class _Read:
    """What one lookup found stored, and what it must compute."""

    replies: list[Candidate]
    message: tuple[int, str, object] | None = None  # (id, the text to embed, created_at) of the customer message
    query: np.ndarray | None = None  # its stored vector
    own: dict[int, np.ndarray] | None = None  # reply id → its stored vector, when of its current words
    examples: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _read(session, model: str, person_id: int, ticket_id: int) -> _Read:
    replies = [Candidate(r.id, r.name, r.text, r.updated_at) for r in usable_replies(session, person_id)]
    found = _Read(replies)
    message = customer_message(session, ticket_id)
    if not replies or message is None:
        return found
    first = repos.first_customer_message(session, ticket_id)
    ticket = session.get(Ticket, ticket_id)
    # the text the message-vectors job embeds for it, so either's vector serves the other
    text = message_text(ticket.subject, message.text) if first.id == message.id else (message.text or "").strip()
    found.message = (message.id, text, message.created_at)
    blob = session.execute(select(MessageVector.vector).where(
        MessageVector.kind == MESSAGE, MessageVector.ref_id == message.id, MessageVector.model == model)).scalar()
    found.query = decode(blob) if blob is not None else None
    stamps = {reply.id: reply.updated_at for reply in replies}
    found.own = {ref_id: decode(blob) for ref_id, blob, at in session.execute(
        select(MessageVector.ref_id, MessageVector.vector, MessageVector.created_at).where(
            MessageVector.kind == SAVED_REPLY, MessageVector.model == model,
            MessageVector.ref_id.in_(list(stamps)))).all() if _same_moment(at, stamps[ref_id])}
    position = {reply.id: i for i, reply in enumerate(replies)}
    rows = session.execute(
        select(SavedReplyExample.saved_reply_id, MessageVector.vector)
        .join(MessageVector, and_(MessageVector.kind == MESSAGE, MessageVector.model == model,
                                  MessageVector.ref_id == SavedReplyExample.ticket_message_id))
        .where(SavedReplyExample.saved_reply_id.in_(list(position)))).all()
    if rows:
        found.examples = np.stack([decode(blob) for _, blob in rows])
        found.owner = np.array([position[reply_id] for reply_id, _ in rows], np.int64)
    return found


def _store(session, model: str, message: tuple[int, str, object] | None, query: np.ndarray | None,
           replies: list[Candidate], vectors: np.ndarray) -> None:
    """Keep what a lookup computed: the customer message's vector (unless the job stored it
    meanwhile) and the replies' (replacing those of their earlier words)."""
    if message is not None and query is not None:
        session.execute(repos.insert_for(session, MessageVector).on_conflict_do_nothing(),
                        [{"kind": MESSAGE, "ref_id": message[0], "model": model, "vector": encode(query),
                          "created_at": message[2]}])
    if replies:
        session.execute(delete(MessageVector).where(
            MessageVector.kind == SAVED_REPLY, MessageVector.model == model,
            MessageVector.ref_id.in_([reply.id for reply in replies])))
        session.execute(repos.insert_for(session, MessageVector).on_conflict_do_nothing(),
                        [{"kind": SAVED_REPLY, "ref_id": reply.id, "model": model, "vector": encode(vector),
                          "created_at": reply.updated_at} for reply, vector in zip(replies, vectors)])


def closest_replies(ctx, person_id: int, ticket_id: int, k: int = OFFERED) -> list[Match]:
    """The ``k`` saved replies ``person_id`` may use that are closest to the ticket's customer
    message, best first ([] when there are none).

    Reads in one short transaction, runs the model outside any (only for what is not stored), keeps
    what it computed in another: no lock is held while the model computes."""
    embedder = local_embedder(ctx)
    model = embedder.name
    with ctx.db.transaction(read_only=True) as session:
        found = _read(session, model, person_id, ticket_id)
    if not found.replies:
        return []
    if found.message is None:  # a ticket without a customer message (never, from intake): the first replies
        return [Match(reply, 0.0) for reply in found.replies[:k]]
    stale = [reply for reply in found.replies if reply.id not in found.own]
    texts = ([] if found.query is not None else [found.message[1]]) + [match_text(r.name, r.text) for r in stale]
    computed = embedder.embed(texts) if texts else np.zeros((0, 0), np.float32)
    query = found.query if found.query is not None else computed[0]
    fresh = computed[len(texts) - len(stale):]
    if texts:
        with ctx.db.transaction() as session:
            _store(session, model, found.message if found.query is None else None,
                   query if found.query is None else None, stale, fresh)
    own = dict(found.own)
    own.update({reply.id: vector for reply, vector in zip(stale, fresh)})
    index = reply_index(model, np.stack([own[reply.id] for reply in found.replies]), found.examples, found.owner)
    return [Match(found.replies[i], score) for i, score in index.similar_to(query, k)]


def learn(session, saved_reply_id: int, ticket_id: int, reply_id: int, now) -> None:
    """The saved reply was chosen and sent for this ticket as reply ``reply_id``: its customer message
    becomes an example, and the use is recorded so that Undo can take both back
    (``repos.withdraw_saved_use``)."""
    message = customer_message(session, ticket_id)
    session.add(SavedReplyUse(reply_id=reply_id, saved_reply_id=saved_reply_id,
                              example_message_id=message.id if message is not None else None, created_at=now))
    if message is None:
        return
    session.execute(repos.insert_for(session, SavedReplyExample).on_conflict_do_nothing(),
                    [{"saved_reply_id": saved_reply_id, "ticket_message_id": message.id,
                      "created_at": now}])
