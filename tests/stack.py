"""A whole Pitchin process for end-to-end tests: real HTTP server, real Bolt app, real database,
real SMTP server (aiosmtpd); only Slack's Web API is a fake, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, replace

import aiohttp

from bot.app import Pitchin
from bot.config import Settings
from tests.fakes.slack_api import FakeSlackApi, block_action_body, event_body, message_event, sign, slash_command_body
from tests.fakes.smtp import SmtpSink

SECRET = "test-signing-secret"
TOKEN = "intake-test-token"
CHANNEL = "CSUPPORT"


def settings_for(db_url: str, fake: FakeSlackApi | None, smtp: SmtpSink | None, **overrides) -> Settings:
    base = Settings(
        database_url=db_url,
        host="127.0.0.1",
        port=0,
        slack_bot_token="xoxb-test" if fake else "",
        slack_signing_secret=SECRET if fake else "",
        slack_api_url=fake.url if fake else "https://slack.com/api/",
        support_channel=CHANNEL if fake else "",
        smtp_url=smtp.url if smtp else "",
        from_email="support@acme.test",
        intake_token=TOKEN,
        undo_seconds=1,
    )
    return replace(base, **overrides)


class LaterClock:
    """Ten minutes from now: lets a test skip a retry's backoff instead of waiting for it."""

    def now(self):
        return datetime.now(timezone.utc) + timedelta(minutes=10)


@dataclass
class Stack:
    pitchin: Pitchin
    slack: FakeSlackApi
    smtp: SmtpSink
    http: aiohttp.ClientSession
    event_seq: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.pitchin.port}"

    async def post_email(self, raw: bytes | str, token: str | None = TOKEN, content_type="message/rfc822"):
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body = raw.encode() if isinstance(raw, str) else raw
        async with self.http.post(f"{self.base}/intake/email", data=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def post_message(self, payload, token: str | None = TOKEN):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        async with self.http.post(f"{self.base}/intake/messages", data=data, headers=headers) as resp:
            return resp.status, await resp.json()

    async def slack_post(self, body: str, content_type: str, *, secret: str = SECRET, timestamp: int | None = None,
                         retry: int | None = None):
        headers = sign(secret, body, timestamp)
        headers["Content-Type"] = content_type
        if retry is not None:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        async with self.http.post(f"{self.base}/slack/events", data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()

    async def click(self, action_id: str, value: str, user: str, message_ts: str, response_id: str | None = None):
        response_id = response_id or f"{user}-{action_id}-{time.monotonic_ns()}"
        body = block_action_body(action_id, value, user, CHANNEL, message_ts, self.slack.url_for_response(response_id))
        status, _ = await self.slack_post(body, "application/x-www-form-urlencoded")
        return status, response_id

    async def say_in_thread(self, user: str, text: str, thread_ts: str, ts: str | None = None,
                            event_id: str | None = None, retry: int | None = None, **extra):
        self.event_seq += 1
        ts = ts or f"1800000000.{self.event_seq:06d}"
        event = message_event(CHANNEL, user, text, ts, thread_ts=thread_ts, **extra)
        body = event_body(event, event_id=event_id)
        status, _ = await self.slack_post(body, "application/json", retry=retry)
        return status, ts

    async def command(self, user: str, text: str):
        response_id = f"cmd-{time.monotonic_ns()}"
        body = slash_command_body("/pitchin", text, user, CHANNEL, self.slack.url_for_response(response_id))
        status, _ = await self.slack_post(body, "application/x-www-form-urlencoded")
        return status, response_id

    async def response(self, response_id: str, timeout: float = 10) -> dict:
        calls = await self.slack.wait_for("response_url", where=lambda c: c.path.endswith("/" + response_id),
                                          timeout=timeout)
        return calls[-1].args

    async def ticket_post(self, index: int = 0, timeout: float = 10):
        """The index-th ticket root message posted to the support channel, once Pitchin has stored
        where it is (the worker does that after Slack answered: until then a reply in its thread
        would not be known as the ticket's)."""
        posts = await self.slack.wait_for(
            "chat.postMessage", count=index + 1, timeout=timeout,
            where=lambda c: c.args.get("channel") == CHANNEL and not c.args.get("thread_ts") and c.ok)
        await self.anchored(posts[index].response["ts"], timeout)
        return posts[index]

    async def anchored(self, thread_id: str, timeout: float = 10) -> None:
        """Wait until a ticket's thread ``thread_id`` is stored (polled until the deadline)."""
        from sqlmodel import select

        from storage.models import ThreadAnchor

        deadline = time.monotonic() + timeout
        while True:
            with self.pitchin.db.transaction() as session:
                if session.exec(select(ThreadAnchor).where(ThreadAnchor.thread_id == thread_id)).first():
                    return
            assert time.monotonic() < deadline, f"the post {thread_id} was never stored as a ticket's thread"
            await asyncio.sleep(0.02)


async def start_stack(db_url: str, socket_mode_url: str | None = None, scheduler: bool = False, **overrides) -> Stack:
    slack = FakeSlackApi()
    await slack.start()
    if socket_mode_url:
        slack.set_socket_mode_url(socket_mode_url)
    smtp = SmtpSink()
    smtp.start()
    pitchin = Pitchin(settings_for(db_url, slack, smtp, **overrides))
    await pitchin.start(http=True, worker=True, scheduler=scheduler)
    return Stack(pitchin, slack, smtp, aiohttp.ClientSession())


async def stop_stack(stack: Stack) -> None:
    await stack.http.close()
    await stack.pitchin.stop()
    stack.smtp.stop()
    await stack.slack.stop()


def raw_mail(subject="Double charge", body="My card was charged twice.", sender="Carol Customer <carol@example.com>",
             message_id="<m1@mail.example.com>", in_reply_to: str | None = None, references: str | None = None) -> bytes:
    lines = [f"From: {sender}", "To: support@acme.test", f"Subject: {subject}", f"Message-ID: {message_id}",
             "Date: Mon, 23 Nov 2026 09:00:00 +0000", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()
