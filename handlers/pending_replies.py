"""Replies still inside their undo window when the person who wrote them leaves (the console's quit).

Each such reply is a queued "customer.reply" job whose run_after is the end of its undo window
(tickets.answer). Leaving, the writer chooses: send them now (the window is closed at once), keep
them (nothing changes: the next worker on this database sends them), or take them back (as Undo).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from handlers import tickets
from handlers.base import Actor
from handlers.context import Context
from handlers.outbound import where_to
from storage.models import OutboxJob, Ticket, TicketMessage


@dataclass(frozen=True)
class Waiting:
    reply_id: int
    ticket_id: int
    email: str


@dataclass(frozen=True)
class Outcome:
    """Where a reply stands: ``state`` is "sent", "cancelled", "failed" (given up) or "pending"."""

    reply_id: int
    ticket_id: int
    email: str
    state: str
    words: str  # "by email", "to the web form"
    error: str | None


def waiting(ctx: Context, platform: str) -> list[Waiting]:
    """Replies written on ``platform`` that have not been tried yet: queued, in (or just past) their
    undo window. A reply already tried and failing is not "waiting": the worker keeps at it."""
    with ctx.db.transaction(read_only=True) as session:
        rows = session.execute(
            select(TicketMessage, Ticket.customer_email)
            .join(OutboxJob, OutboxJob.id == TicketMessage.delivery_job_id)
            .join(Ticket, Ticket.id == TicketMessage.ticket_id)
            .where(TicketMessage.kind == "reply", TicketMessage.delivery_state == "pending",
                   OutboxJob.state == "pending", OutboxJob.attempts == 0)
            .order_by(TicketMessage.id)
        ).all()
    return [Waiting(m.id, m.ticket_id, email) for m, email in rows if (m.chat_ref or {}).get("platform") == platform]


def send_now(ctx: Context, reply_ids: list[int]) -> int:
    """End the undo window of these replies now; the caller wakes the worker. How many were released."""
    if not reply_ids:
        return 0
    with ctx.db.transaction() as session:
        jobs = select(TicketMessage.delivery_job_id).where(TicketMessage.id.in_(reply_ids))
        result = session.execute(update(OutboxJob).where(OutboxJob.id.in_(jobs), OutboxJob.state == "pending",
                                                         OutboxJob.attempts == 0)
                                 .values(run_after=ctx.now()))
        released = result.rowcount
    ctx.wake()
    return released


def outcomes(ctx: Context, reply_ids: list[int]) -> list[Outcome]:
    with ctx.db.transaction(read_only=True) as session:
        rows = session.execute(select(TicketMessage, Ticket).join(Ticket, Ticket.id == TicketMessage.ticket_id)
                               .where(TicketMessage.id.in_(reply_ids)).order_by(TicketMessage.id)).all()
        return [Outcome(m.id, t.id, t.customer_email, m.delivery_state or "pending", where_to(t), m.delivery_error)
                for m, t in rows]


def cancel(ctx: Context, actor: Actor, reply_ids: list[int]) -> list[tuple[int, str]]:
    """Take the replies back as Undo would: (ticket id, what Undo said) for each."""
    said = []
    for reply_id in reply_ids:
        with ctx.db.transaction(read_only=True) as session:
            reply = session.get(TicketMessage, reply_id)
            ticket_id = reply.ticket_id if reply is not None else 0
        said.append((ticket_id, tickets.undo_reply(ctx, actor, reply_id).text))
    return said
