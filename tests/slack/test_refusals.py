"""Slack refusals an admin must mend (a channel closed to Pitchin, a refused token, a missing scope)
stop each job after one try, and are explained once: one log line with what to do, and one post in
the support channel where a post can get through — not once per job, not again after a restart."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlmodel import select

from bot.app import Pitchin
from handlers import outbound
from handlers.base import Actor
from storage import repos
from storage.models import OutboxJob
from tests.stack import CHANNEL, raw_mail


async def settled(stack, timeout: float = 15) -> list[OutboxJob]:
    """Wait until no job is pending (polled until the deadline); return every job."""
    deadline = time.monotonic() + timeout
    while True:
        with stack.pitchin.db.transaction() as s:
            if repos.pending_jobs(s) == 0:
                return list(s.exec(select(OutboxJob).order_by(OutboxJob.id)).all())
        assert time.monotonic() < deadline, "the outbox did not settle"
        await asyncio.sleep(0.05)


def queue_posts(stack, channel: str, count: int) -> None:
    ctx = stack.pitchin.ctx
    with ctx.db.transaction() as s:
        for i in range(count):
            outbound.post_to_channel(ctx, s, "slack", channel, f"Today's digest, part {i + 1}")


def advice_lines(caplog, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pitchin.delivery" and words in r.getMessage()]


def support_posts(stack) -> list:
    return [c for c in stack.slack.calls_to("chat.postMessage") if c.ok and c.args["channel"] == CHANNEL]


async def restart(stack) -> None:
    settings = stack.pitchin.settings
    await stack.pitchin.stop()
    stack.pitchin = Pitchin(settings)
    await stack.pitchin.start(http=True, worker=True, scheduler=False)


ADVICE = {
    "not_in_channel": "Pitchin is not in channel CPRIVATE: invite it with /invite @Pitchin in that channel.",
    "channel_not_found": "Slack has no channel CPRIVATE that Pitchin can see: check the channel id",
    "is_archived": "Channel CPRIVATE is archived: unarchive it, or choose another channel.",
}


@pytest.mark.parametrize("error", sorted(ADVICE))
async def test_a_channel_closed_to_pitchin_is_explained_once_in_the_log_and_the_support_channel(stack, caplog, error):
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    stack.slack.refuse("chat.postMessage", error, channel="CPRIVATE")
    queue_posts(stack, "CPRIVATE", 3)
    jobs = await settled(stack)

    tried = [c for c in stack.slack.calls_to("chat.postMessage") if c.args["channel"] == "CPRIVATE"]
    assert len(tried) == 3  # one try per job: trying again cannot help
    assert [j.state for j in jobs if j.payload.get("channel") == "CPRIVATE"] == ["failed"] * 3
    assert len(advice_lines(caplog, ADVICE[error])) == 1
    (told,) = support_posts(stack)
    assert ADVICE[error] in told.args["text"] and told.args["text"].startswith("⚠️")

    # a new process logs the advice once more, but the channel has been told today already
    await restart(stack)
    caplog.clear()
    queue_posts(stack, "CPRIVATE", 2)
    await settled(stack)
    assert len([c for c in stack.slack.calls_to("chat.postMessage") if c.args["channel"] == "CPRIVATE"]) == 5
    assert len(advice_lines(caplog, ADVICE[error])) == 1
    assert len(support_posts(stack)) == 1


async def test_when_the_support_channel_itself_is_closed_the_log_says_so_and_nothing_is_posted(any_stack, caplog):
    stack = any_stack
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    stack.slack.refuse("chat.postMessage", "not_in_channel", channel=CHANNEL)
    await stack.post_email(raw_mail())
    await stack.post_email(raw_mail(subject="Second", message_id="<m2@mail.example.com>"))
    jobs = await settled(stack)

    assert len(stack.slack.calls_to("chat.postMessage")) == 2  # the two tickets, once each; no notice
    assert [j.state for j in jobs] == ["failed", "failed"]
    (advice,) = advice_lines(caplog, "Pitchin is not in the support channel CSUPPORT (PITCHIN_SUPPORT_CHANNEL): "
                                     "invite it with /invite @Pitchin in that channel.")
    assert advice.startswith("Slack refused Pitchin (not_in_channel)")


async def test_a_ticket_thread_is_not_told_what_cannot_be_posted_in_it_either(stack, caplog):
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    _, body = await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]
    stack.slack.refuse("*", "not_in_channel", channel=CHANNEL)  # someone removed Pitchin from #support
    await stack.click("ticket.claim", str(body["ticket_id"]), "UANN", root_ts)
    await stack.slack.wait_for("chat.update", where=lambda c: c.response.get("error") == "not_in_channel")
    await settled(stack)

    assert len(stack.slack.calls_to("chat.update")) == 1
    assert not [c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == root_ts]
    assert len(advice_lines(caplog, "Pitchin is not in the support channel CSUPPORT")) == 1


async def test_a_refused_token_stops_every_job_at_once_and_is_logged_once(stack, caplog):
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    stack.slack.refuse("*", "invalid_auth")
    await stack.post_email(raw_mail())
    queue_posts(stack, "CGENERAL", 2)
    jobs = await settled(stack)

    assert len(stack.slack.calls_to("chat.postMessage")) == 3  # one try each; nothing tells the support channel
    assert {j.state for j in jobs} == {"failed"} and len(jobs) == 3
    (advice,) = advice_lines(caplog, "SLACK_BOT_TOKEN")
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in advice and "reinstall the app" in advice
    assert len([r for r in caplog.records if "ended undone: Slack refused chat.postMessage: invalid_auth"
                in r.getMessage()]) == 3


async def test_a_missing_scope_is_named_and_told_in_the_support_channel_unless_it_is_chat_write(stack, caplog):
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    ctx = stack.pitchin.ctx
    stack.slack.refuse("usergroups.users.update", "missing_scope", needed="usergroups:write",
                       provided="chat:write,commands")
    with ctx.db.transaction() as s:
        ann = repos.person_for(s, Actor("slack", "UANN", "Ann"))
        outbound.set_usergroup(ctx, s, "slack", "SONDUTY", [ann.id])
        outbound.set_usergroup(ctx, s, "slack", "SONDUTY", [ann.id])
    await settled(stack)

    assert len(stack.slack.calls_to("usergroups.users.update")) == 2
    words = ("The Slack app lacks the usergroups:write scope (it has chat:write,commands): add it under "
             "OAuth & Permissions (manifest.yml lists every scope Pitchin needs) and reinstall the app.")
    assert len(advice_lines(caplog, words)) == 1
    (told,) = support_posts(stack)
    assert told.args["text"].startswith("⚠️ Slack refused Pitchin (missing_scope usergroups:write). ")
    assert words.replace("&", "&amp;") in told.args["text"]  # neutral words, escaped for Slack

    # without chat:write no post can say so: the log does
    stack.slack.refuse("chat.postMessage", "missing_scope", channel="CGENERAL", needed="chat:write",
                       provided="commands")
    queue_posts(stack, "CGENERAL", 2)
    await settled(stack)
    assert len([c for c in stack.slack.calls_to("chat.postMessage") if c.args["channel"] == "CGENERAL"]) == 2
    assert len(advice_lines(caplog, "lacks the chat:write scope (it has commands)")) == 1
    assert len(support_posts(stack)) == 1
