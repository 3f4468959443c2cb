"""Outside trouble delays delivery but loses and doubles nothing; long mail is cut in the channel
and posted whole in the thread; posts to any channel or person go through the same outbox; a job
Slack refuses for good ends with a notice and does not hold the ticket back. (Web-form tickets
answered by a signed webhook: test_reply_url.py.)"""

from __future__ import annotations

import asyncio
import json
import time

from handlers import outbound
from handlers.base import Actor, Card
from storage import repos
from tests.stack import LaterClock, raw_mail


async def test_slack_rate_limit_and_outage_delay_the_post_but_lose_nothing(stack):
    stack.slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    await stack.post_email(raw_mail())
    post = await stack.ticket_post(timeout=15)
    limited = [c for c in stack.slack.calls_to("chat.postMessage") if c.status == 429]
    assert len(limited) == 1 and "Double charge" in post.args["text"]

    stack.slack.set_down(True)
    await stack.post_email(raw_mail(subject="Second", message_id="<m2@mail.example.com>"))
    await stack.slack.wait_for("chat.postMessage", where=lambda c: c.status == 503)
    stack.slack.set_down(False)
    stack.pitchin.ctx.clock = LaterClock()  # skip the backoff wait
    second = await stack.ticket_post(1, timeout=15)
    assert "Second" in second.args["text"]
    assert len([c for c in stack.slack.calls_to("chat.postMessage") if c.ok and not c.args.get("thread_ts")]) == 2


async def test_long_mail_is_cut_in_the_channel_and_whole_in_the_thread(stack):
    long_text = "\n".join(f"Line {i}: the export keeps failing with error E{i}." for i in range(200))
    await stack.post_email(raw_mail(body=long_text))
    root = await stack.ticket_post()
    shown = json.dumps(root.args["blocks"])
    assert "Line 0:" in shown and "Line 199:" not in shown and "The full message is in the thread." in shown
    full = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root.response["ts"])
    assert "Line 199: the export keeps failing with error E199." in full[0].args["text"]



async def _settled(stack, timeout: float = 15) -> None:
    """Wait until no job is pending (polled until the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        with stack.pitchin.db.transaction() as s:
            if repos.pending_jobs(s) == 0:
                return
        assert time.monotonic() < deadline, "the outbox did not settle"
        await asyncio.sleep(0.05)


async def test_a_channel_post_and_a_dm_wait_out_rate_limits_and_go_out_once(any_stack):
    stack = any_stack
    stack.slack.rate_limit("chat.postMessage", times=2, retry_after=1)
    ctx = stack.pitchin.ctx
    card = Card(title="Support rotation", body="On duty: Ann <!channel> & <https://evil.example|Bob>")
    with ctx.db.transaction() as s:
        ann = repos.person_for(s, Actor("slack", "UANN", "Ann"))
        outbound.post_to_channel(ctx, s, "slack", "CGENERAL", "Today's rotation", card=card)
        outbound.post_to_person(ctx, s, ann.id, "You are on duty today <!here>.")

    (post,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.ok and c.args["channel"] == "CGENERAL")
    (dm,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.ok and c.args["channel"] == "UANN")
    assert len([c for c in stack.slack.calls_to("chat.postMessage") if c.status == 429]) == 2
    # neutral words are escaped: nobody is pinged, no link is planted
    assert dm.args["text"] == "You are on duty today &lt;!here&gt;."
    assert post.args["text"] == "Today's rotation"
    assert "Ann &lt;!channel&gt; &amp; &lt;https://evil.example|Bob&gt;" in json.dumps(post.args["blocks"])
    await _settled(stack)
    ok = [c for c in stack.slack.calls_to("chat.postMessage") if c.ok]
    assert len(ok) == 2 and stack.slack.violations == []


async def test_a_deleted_card_ends_its_update_with_a_notice_and_the_thread_goes_on(any_stack):
    stack = any_stack
    _, body = await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]
    stack.slack.fail("chat.update", status=200, error="message_not_found")  # someone deleted the card
    await stack.click("ticket.claim", str(body["ticket_id"]), "UANN", root_ts)
    (notice,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.ok and c.args.get("thread_ts") == root_ts)
    assert notice.args["text"] == ("⚠️ Pitchin could not redraw this ticket's card: "
                                   "Slack refused chat.update: message_not_found.")

    await stack.post_email(raw_mail(body="Any news?", message_id="<m2@mail.example.com>",
                                    in_reply_to="<m1@mail.example.com>"))
    await stack.slack.wait_for("chat.postMessage", where=lambda c: c.ok and c.args.get("thread_ts") == root_ts
                               and "Any news?" in c.args["text"])
    await _settled(stack)
    assert len(stack.slack.calls_to("chat.update")) == 1  # refused for good: not tried again
