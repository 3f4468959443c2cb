"""Claim is atomic: of many simultaneous clicks exactly one wins, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import select

from handlers import tickets
from handlers.base import Actor, InboundMessage, utcnow
from handlers.context import Context
from storage.models import OutboxJob, Ticket
from storage import repos

CLICKERS = 50


def _new_ticket(ctx: Context) -> int:
    msg = InboundMessage(source="web", external_key="web:race-1", sender_email="carol@example.com",
                         sender_name="Carol", subject="Race", text="Who gets me?", received_at=utcnow())
    return tickets.intake(ctx, msg).ticket_id


def _stampede(ctx: Context, ticket_id: int, verb) -> list:
    barrier = threading.Barrier(CLICKERS)

    def click(i: int):
        actor = Actor("slack", f"U{i:03d}", f"Person {i}")
        barrier.wait()  # everyone clicks at the same moment
        return actor, verb(ctx, actor, ticket_id)

    with ThreadPoolExecutor(max_workers=CLICKERS) as pool:
        return list(pool.map(click, range(CLICKERS)))


def test_fifty_simultaneous_claims_have_one_winner(any_database):
    ctx = Context(db=any_database, platforms=("slack",))
    ticket_id = _new_ticket(ctx)
    results = _stampede(ctx, ticket_id, tickets.claim)

    winners = [(actor, reply) for actor, reply in results if reply.ok]
    assert len(winners) == 1
    winner = winners[0][0]
    losers = [reply for actor, reply in results if not reply.ok]
    assert len(losers) == CLICKERS - 1
    assert all(r.text == f"#{ticket_id} is already claimed by {winner.name}." for r in losers)

    with any_database.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        holder = repos.person_refs(session, [ticket.claimed_by_id])[ticket.claimed_by_id]
        updates = session.exec(select(OutboxJob).where(OutboxJob.kind == "chat.update_ticket")).all()
    assert holder.name == winner.name
    assert len(updates) == 1  # the message is redrawn once, for the one claim that happened


def test_fifty_simultaneous_closes_close_once(any_database):
    ctx = Context(db=any_database, platforms=("slack",))
    ticket_id = _new_ticket(ctx)
    results = _stampede(ctx, ticket_id, tickets.close)
    assert sum(1 for _, reply in results if reply.ok) == 1
    assert all("already closed by" in reply.text for _, reply in results if not reply.ok)
