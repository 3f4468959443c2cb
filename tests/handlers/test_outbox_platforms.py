"""Workers on one database take only the jobs of the platforms they serve (a console and a server
side by side), and both take platform-free ones (customer replies) exactly once."""

from __future__ import annotations

from sqlmodel import select

from bot.delivery import DeliveryWorker
from handlers import outbound
from handlers.base import Actor
from storage import repos
from storage.models import OutboxJob
from tests.conftest import RecordingChat
from tests.handlers.conftest import drain


def job(ctx, job_id: int) -> OutboxJob:
    with ctx.db.transaction(read_only=True) as s:
        return s.get(OutboxJob, job_id)


def queue(ctx, fn, *args, **kwargs) -> int:
    with ctx.db.transaction() as s:
        return fn(ctx, s, *args, **kwargs).id


async def test_a_worker_leaves_other_platforms_jobs_untouched(ctx):
    console, slack = RecordingChat("console"), RecordingChat("slack")
    here = DeliveryWorker(ctx, {"console": console}, None)
    there = DeliveryWorker(ctx, {"slack": slack}, None)
    to_slack = queue(ctx, outbound.post_to_channel, "slack", "C-SUPPORT", "for Slack")
    to_console = queue(ctx, outbound.post_to_channel, "console", "console", "for the console")

    await drain(here)
    assert console.channel_posts == [("console", "for the console", None)]
    assert (job(ctx, to_slack).state, job(ctx, to_slack).attempts, job(ctx, to_slack).lease_owner) == ("pending", 0, None)
    assert slack.channel_posts == []

    await drain(there)
    assert slack.channel_posts == [("C-SUPPORT", "for Slack", None)]
    assert job(ctx, to_console).attempts == 1 and job(ctx, to_slack).attempts == 1
    assert job(ctx, to_console).lease_owner == here.owner and job(ctx, to_slack).lease_owner == there.owner


async def test_a_private_message_goes_to_a_worker_that_reaches_the_person(ctx):
    console, slack = RecordingChat("console"), RecordingChat("slack")
    here = DeliveryWorker(ctx, {"console": console}, None)
    there = DeliveryWorker(ctx, {"slack": slack}, None)
    with ctx.db.transaction() as s:
        bob = repos.person_for(s, Actor("slack", "U-BOB", "Bob"))
    direct = queue(ctx, outbound.post_to_person, bob.id, "You are on duty today.")

    await drain(here)  # the console cannot reach Bob: it hands the message over instead of dropping it
    assert console.direct_messages == []
    assert (job(ctx, direct).state, job(ctx, direct).payload["platform"]) == ("pending", "slack")
    await drain(here)
    assert job(ctx, direct).attempts == 1  # not taken again by the console

    await drain(there)
    assert slack.direct_messages == [("U-BOB", "You are on duty today.")]
    assert job(ctx, direct).state == "done"


async def test_a_platform_free_job_is_done_once_by_whichever_worker_leases_it(ctx):
    here = DeliveryWorker(ctx, {"console": RecordingChat("console")}, None)
    there = DeliveryWorker(ctx, {"slack": RecordingChat("slack")}, None)
    nobody = queue(ctx, outbound.post_to_person, 999_999, "nobody has an account")  # skipped, and done
    leased = await here.run_once() + await there.run_once()
    assert leased == 1
    assert job(ctx, nobody).state == "done" and job(ctx, nobody).attempts == 1
    with ctx.db.transaction(read_only=True) as s:
        assert [j.state for j in s.exec(select(OutboxJob))] == ["done"]
