"""The outbox beyond tickets' threads: posts to any channel or person, jobs that end undone and say
so without holding a ticket's later posts back, the 24 h cap on retries, and old jobs deleted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlmodel import select

from bot.delivery import DeliveryWorker
from handlers import outbound, tickets
from handlers.base import Button, Card, DeliveryError, PersonRef, When
from storage import repos
from storage.models import OutboxJob
from tests.conftest import RecordingChat
from tests.handlers.conftest import drain
from tests.handlers.test_tickets import ANN, mail, reply_while_mail_fails

GONE = DeliveryError("Slack refused chat.update: message_not_found", permanent=True)
DAY = 24 * 3600


def jobs(ctx) -> list[OutboxJob]:
    with ctx.db.transaction() as s:
        return list(s.exec(select(OutboxJob).order_by(OutboxJob.id)))


async def test_a_post_to_a_channel_and_to_a_person_go_out_once_when_the_caller_commits(ctx, worker, chat):
    card = Card(title="On duty today", fields=(("Who", (PersonRef("Ann", (("test", "U-ANN"),)),)),),
                status=("Until ", When(datetime(2026, 12, 1, 17, tzinfo=timezone.utc))),
                actions=(Button("Swap", "rotation.swap", "3"),))
    woke = []
    ctx.wake = lambda: woke.append(True)
    with ctx.db.transaction() as s:
        ann = repos.person_for(s, ANN)
        outbound.post_to_channel(ctx, s, "test", "C-GENERAL", "Rotation: Ann is on duty today.", card=card)
        outbound.post_to_person(ctx, s, ann.id, "You are on duty today.")
        assert woke == []  # the worker would find nothing before the commit
    assert woke == [True, True]
    with pytest.raises(RuntimeError), ctx.db.transaction() as s:
        outbound.post_to_channel(ctx, s, "test", "C-GENERAL", "never sent")
        raise RuntimeError("the caller's work failed")
    with pytest.raises(ValueError, match="needs a text or a card"), ctx.db.transaction() as s:
        outbound.post_to_channel(ctx, s, "test", "C-GENERAL", "")

    await drain(worker)
    assert chat.channel_posts == [("C-GENERAL", "Rotation: Ann is on duty today.", card)]  # the card as queued
    assert chat.direct_messages == [("U-ANN", "You are on duty today.")]
    await drain(worker)
    assert len(chat.channel_posts) == 1 and len(chat.direct_messages) == 1
    assert {j.state for j in jobs(ctx)} == {"done"}


async def test_a_refused_job_ends_with_a_notice_and_the_tickets_later_posts_go_on(ctx, worker, chat):
    t = tickets.intake(ctx, mail(key="<first@example.com>")).ticket_id
    await drain(worker)
    chat.failure, chat.fail_next = GONE, 1  # someone deleted the ticket's card in the channel
    tickets.claim(ctx, ANN, t)
    tickets.intake(ctx, mail("Any news?", key="<second@example.com>", refs=("<first@example.com>",)))
    await drain(worker)

    assert chat.threads["root-1"] == [
        "📨 The customer wrote:\nAny news?",
        "⚠️ Pitchin could not redraw this ticket's card: Slack refused chat.update: message_not_found.",
    ]
    (failed,) = [j for j in jobs(ctx) if j.state == "failed"]
    assert failed.kind == "chat.update_ticket" and failed.attempts == 1 and "message_not_found" in failed.last_error
    assert all(j.state != "pending" for j in jobs(ctx))


async def test_a_delivery_that_cannot_be_shown_on_its_message_is_said_in_the_thread(ctx, worker, chat, customers, clock):
    source = await reply_while_mail_fails(ctx, worker, customers)
    customers.fail_with = None
    await drain(worker)  # the card shows Ann's claim; the reply waits out its undo window
    chat.failure = DeliveryError("Slack refused reactions.add: message_not_found", permanent=True)
    chat.fail_next = 1  # Ann deleted her message before it was delivered
    clock.advance(400)
    await drain(worker)
    assert len(customers.sent) == 1 and source.message_id not in chat.delivery
    assert chat.threads["root-1"][-1] == (
        "⚠️ Pitchin could not show a reply's delivery on its message (“✅ Sent to carol@example.com by email.”): "
        "Slack refused reactions.add: message_not_found.")


async def test_a_notice_about_a_failure_that_fails_too_is_only_logged(ctx, worker, chat, caplog):
    tickets.intake(ctx, mail())
    await drain(worker)
    chat.failure, chat.fail_next = GONE, 2
    tickets.claim(ctx, ANN, 1)
    await drain(worker)
    assert [(j.kind, j.state) for j in jobs(ctx)][-2:] == [("chat.update_ticket", "failed"), ("chat.notice", "failed")]
    await drain(worker)
    assert chat.threads["root-1"] == [] and all(j.state != "pending" for j in jobs(ctx))
    assert "ended undone" in caplog.text


async def test_a_ticket_refused_on_one_platform_says_so_on_the_other_and_its_later_posts_end(ctx, customers):
    ctx.platforms = ("test", "other")
    here, there = RecordingChat("test"), RecordingChat("other")
    worker = DeliveryWorker(ctx, {"test": here, "other": there}, customers)
    here.failure, here.fail_next = DeliveryError("Slack refused chat.postMessage: channel_not_found", permanent=True), 1
    t = tickets.intake(ctx, mail()).ticket_id
    await drain(worker)
    tickets.claim(ctx, ANN, t)
    await drain(worker)  # the claim redraws the card on "other"; on "test" there is nothing to redraw

    assert here.roots == {} and list(there.roots) == ["root-1"]
    assert there.threads["root-1"] == [
        "⚠️ Pitchin could not post this ticket on test: Slack refused chat.postMessage: channel_not_found."]
    ended = [(j.kind, j.last_error) for j in jobs(ctx) if j.state == "failed"]
    assert ended == [("chat.post_ticket", "Slack refused chat.postMessage: channel_not_found"),
                     ("chat.update_ticket", "the ticket was never posted on test")]  # at once, not retried


async def test_retries_stop_after_24_hours_and_say_so_in_the_thread(ctx, worker, chat, clock):
    tickets.intake(ctx, mail())
    await drain(worker)
    chat.fail_next = 10_000  # the platform is down for more than a day
    tickets.claim(ctx, ANN, 1)
    for _ in range(3):
        await drain(worker)
        clock.advance(400)
    (update,) = [j for j in jobs(ctx) if j.kind == "chat.update_ticket"]
    assert update.state == "pending" and update.attempts == 3

    clock.advance(DAY)
    chat.fail_next = 1  # the last try fails too; then the platform is back, and the thread hears why
    await drain(worker)
    (update,) = [j for j in jobs(ctx) if j.kind == "chat.update_ticket"]
    assert update.state == "failed" and update.last_error == "gave up after 24 h: chat is down"
    assert chat.threads["root-1"] == [
        "⚠️ Pitchin gave up after 24 h: it could not redraw this ticket's card: chat is down."]


async def test_a_reply_that_cannot_be_delivered_for_24_hours_is_given_up_and_said(ctx, worker, chat, customers, clock):
    source = await reply_while_mail_fails(ctx, worker, customers)
    clock.advance(400)
    await drain(worker)
    assert chat.delivery[source.message_id] == "failed"
    clock.advance(DAY)
    await drain(worker)
    assert chat.delivery[source.message_id] == "gave_up"
    assert chat.marks[-1].text == ("⚠️ Not delivered to carol@example.com: mail server refused the connection. "
                                   "Pitchin gave up after 24 h: answer another way.")
    assert "Pitchin gave up after 24 h" in chat.threads["root-1"][-1]
    customers.fail_with = None
    clock.advance(400)
    await drain(worker)
    assert customers.sent == []  # given up means no surprise mail a day later


async def test_the_worker_deletes_jobs_finished_30_days_ago_at_most_once_an_hour(ctx, worker, chat, clock):
    with ctx.db.transaction() as s:
        outbound.post_to_channel(ctx, s, "test", "C-GENERAL", "old news")
    await drain(worker)
    assert await worker.prune_now_and_then() == 0  # finished just now: kept
    worker._next_prune = 0.0
    clock.advance(31 * DAY)
    with ctx.db.transaction() as s:
        outbound.post_to_channel(ctx, s, "test", "C-GENERAL", "waiting", key="held")
    assert await worker.prune_now_and_then() == 1
    assert [j.payload["text"] for j in jobs(ctx)] == ["waiting"]
    clock.advance(31 * DAY)
    await drain(worker)
    assert await worker.prune_now_and_then() == 0  # within the hour: not looked at again
