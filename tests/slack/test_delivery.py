"""Outside trouble delays delivery but loses and doubles nothing; long mail is cut in the channel
and posted whole in the thread. (Web-form tickets answered by a signed webhook: test_reply_url.py.)"""

from __future__ import annotations

import json

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

