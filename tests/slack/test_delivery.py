"""Outside trouble delays delivery but loses and doubles nothing; web-form tickets are answered by
a signed webhook; long mail is cut in the channel and posted whole in the thread."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bot.inbox.webhook import sign_body
from tests.stack import TOKEN, LaterClock, raw_mail


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


async def test_web_form_ticket_is_answered_by_signed_webhook(stack):
    received: list[tuple[bytes, dict]] = []
    attempts = []

    async def hook(request):
        attempts.append(1)
        if len(attempts) == 1:
            return web.Response(status=503)  # the customer's site hiccups once
        received.append((await request.read(), dict(request.headers)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/pitchin-replies", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/pitchin-replies"
    try:
        status, body = await stack.post_message({"email": "dan@example.com", "name": "Dan", "text": "Where is my order?",
                                                 "external_id": "order-form-77", "reply_url": url})
        assert status == 202 and body["new_ticket"]
        root_ts = (await stack.ticket_post()).response["ts"]
        await stack.say_in_thread("UANN", "It ships tomorrow.", root_ts)
        await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "warning")
        stack.pitchin.ctx.clock = LaterClock()
        await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "white_check_mark", timeout=15)
        ((raw, headers),) = received
        payload = json.loads(raw)
        assert payload["text"] == "It ships tomorrow." and payload["external_id"] == "order-form-77"
        assert payload["to"] == "dan@example.com" and payload["ticket_id"] == body["ticket_id"]
        assert headers["X-Pitchin-Signature"] == sign_body(TOKEN, raw)
        assert stack.smtp.messages == []  # a web-form ticket is not emailed
    finally:
        await runner.cleanup()
