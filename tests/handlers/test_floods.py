"""A burst of mail from one sender: five tickets an hour, the rest folded into the latest, and the
whole burst costs a handful of outbox jobs instead of one chat post per mail."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from handlers import floods, tickets
from handlers.base import InboundMessage
from handlers.context import Context
from storage import repos
from storage.models import OutboxJob, Ticket
from tests.handlers.conftest import drain


@pytest.fixture
def any_ctx(any_database, clock):
    return Context(db=any_database, platforms=("test",), undo_seconds=10, mail_domain="example.test", clock=clock)


def mail(ctx, n: int, sender="fran@example.com") -> InboundMessage:
    key = f"<{uuid.uuid4().hex}@example.com>"
    return InboundMessage(source="email", external_key=f"email:{key}", sender_email=sender, sender_name="Fran",
                          subject=f"Help {n}", text=f"Problem number {n}.", received_at=ctx.now(), email_message_id=key)


def jobs(ctx, kind: str) -> list[OutboxJob]:
    with ctx.db.transaction() as session:
        return list(session.exec(select(OutboxJob).where(OutboxJob.kind == kind).order_by(OutboxJob.id)).all())


async def test_a_burst_of_300_mails_opens_five_tickets_and_one_thread_post(any_ctx, clock, chat):
    from bot.delivery import DeliveryWorker

    results = [tickets.intake(any_ctx, mail(any_ctx, n)) for n in range(300)]

    assert sum(r.new_ticket for r in results) == floods.MAX_NEW_TICKETS
    latest = results[floods.MAX_NEW_TICKETS - 1].ticket_id
    assert {r.ticket_id for r in results[floods.MAX_NEW_TICKETS:]} == {latest}
    assert len(jobs(any_ctx, "chat.post_ticket")) == 5
    assert len(jobs(any_ctx, "chat.notice")) == 1
    assert not jobs(any_ctx, "chat.customer_message")

    clock.advance(floods.BATCH_SECONDS + 1)
    await drain(DeliveryWorker(any_ctx, {"test": chat}, None))
    assert len(chat.roots) == 5
    (thread,) = [t for t in chat.threads.values() if t]
    (notice,) = thread
    assert notice.startswith(f"Folded: fran@example.com opened more than 5 tickets in an hour; "
                             f"these 295 mails joined #{latest}.")
    assert "📨 Help 5\nProblem number 5." in notice and "📨 Help 14\n" in notice and "Help 15" not in notice
    assert notice.endswith("…and 285 more, stored with the ticket.")


async def test_a_notice_a_worker_has_taken_is_not_changed_a_new_one_follows(any_ctx, clock):
    for n in range(floods.MAX_NEW_TICKETS + 1):
        tickets.intake(any_ctx, mail(any_ctx, n))
    clock.advance(floods.BATCH_SECONDS + 1)
    with any_ctx.db.transaction() as session:  # the tickets are posted
        for job in repos.lease_jobs(session, "worker-1", 50, 60, any_ctx.now()):
            assert job.kind == "chat.post_ticket" and repos.finish_job(session, job.id, "worker-1")
    with any_ctx.db.transaction() as session:  # and a worker takes the notice
        (taken,) = repos.lease_jobs(session, "worker-1", 50, 60, any_ctx.now())
    assert taken.kind == "chat.notice"

    tickets.intake(any_ctx, mail(any_ctx, 99))

    first, second = jobs(any_ctx, "chat.notice")
    assert first.id == taken.id and first.payload["fold"]["count"] == 1 and "Help 99" not in first.payload["text"]
    assert second.payload["fold"]["count"] == 1 and "Help 99" in second.payload["text"]
    assert "this one joined" in second.payload["text"]


def test_the_hour_is_counted_back_from_each_mail(any_ctx, clock):
    for n in range(floods.MAX_NEW_TICKETS):
        tickets.intake(any_ctx, mail(any_ctx, n))
        clock.advance(600)  # one every 10 minutes
    assert tickets.intake(any_ctx, mail(any_ctx, 5)).folded  # 5 in the last 50 minutes
    clock.advance(floods.WINDOW.total_seconds() - 3000 + 1)  # the first one is now over an hour old
    assert tickets.intake(any_ctx, mail(any_ctx, 6)).new_ticket
    assert tickets.intake(any_ctx, mail(any_ctx, 7, sender="dave@example.com")).new_ticket


def test_a_flood_into_a_closed_ticket_reopens_it_once(any_ctx):
    from handlers.base import Actor

    ids = [tickets.intake(any_ctx, mail(any_ctx, n)).ticket_id for n in range(floods.MAX_NEW_TICKETS)]
    for t in ids:
        tickets.close(any_ctx, Actor("test", "U-ANN", "Ann"), t)
    results = [tickets.intake(any_ctx, mail(any_ctx, n)) for n in range(5, 9)]
    assert {r.ticket_id for r in results} == {ids[-1]} and all(r.folded for r in results)
    with any_ctx.db.transaction() as session:
        assert session.get(Ticket, ids[-1]).status == "open"
    assert len(jobs(any_ctx, "chat.update_ticket")) == floods.MAX_NEW_TICKETS + 1  # five closes, one reopening
