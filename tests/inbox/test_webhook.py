"""Answering web-form tickets: signed JSON POSTed to a real HTTP server on 127.0.0.1 (which
PITCHIN_WEBHOOK_ALLOW must list: a loopback address is refused otherwise, see test_reply_url_policy)."""

import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from bot.inbox.addresses import AllowList
from bot.inbox.customer import CustomerRouter
from bot.inbox.webhook import WebhookChannel, sign_body
from handlers.base import DeliveryError, OutgoingReply
from tests.fakes.webhook import Receiver

SECRET = "s3cret-shared-with-the-form"
LOOPBACK = AllowList.parse("127.0.0.1")  # the receivers here are on this machine


def make_reply(url: str | None, **overrides) -> OutgoingReply:
    values = dict(
        ticket_id=42,
        reply_id=7,
        to_email="ann@example.com",
        to_name="Ann",
        subject="Re: Order #1001",
        text="Hi Ann — your refund of 12 € is on its way.",
        author_name="Bob",
        message_id="<pitchin.77@acme.test>",
        in_reply_to=None,
        references=(),
        reply_url=url,
        external_id="form-123",
    )
    values.update(overrides)
    return OutgoingReply(**values)


@pytest.fixture
async def receiver():
    recv = await Receiver().start()
    try:
        yield recv
    finally:
        await recv.stop()


@pytest.fixture
async def channel():
    ch = WebhookChannel(SECRET, LOOPBACK, timeout=5)
    try:
        yield ch
    finally:
        await ch.close()


# ---------------------------------------------------------------- a successful delivery


async def test_reply_is_posted_as_signed_compact_json(receiver, channel):
    result = await channel.send(make_reply(receiver.url))
    assert result == f"posted to {receiver.url}"

    [req] = receiver.requests
    assert req.method == "POST" and req.path == "/pitchin/replies"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Pitchin-Delivery"] == "<pitchin.77@acme.test>"

    payload = json.loads(req.body)
    assert payload == {
        "ticket_id": 42,
        "reply_id": 7,
        "external_id": "form-123",
        "to": "ann@example.com",
        "subject": "Re: Order #1001",
        "text": "Hi Ann — your refund of 12 € is on its way.",
        "author": "Bob",
        "message_id": "<pitchin.77@acme.test>",
    }
    # Compact and key-sorted, so the exact bytes are predictable.
    assert req.body == json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


async def test_receiver_can_verify_the_signature(receiver, channel):
    await channel.send(make_reply(receiver.url))
    [req] = receiver.requests
    signature = req.headers["X-Pitchin-Signature"]
    expected = "sha256=" + hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert signature == expected
    assert hmac.compare_digest(signature, sign_body(SECRET, req.body))
    assert sign_body("someone-else", req.body) != signature
    assert sign_body(SECRET, req.body + b" ") != signature  # a tampered body does not verify


def test_sign_body_matches_a_known_value():
    # RFC 4231 test case 2.
    assert sign_body("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


# ---------------------------------------------------------------- failures and retries


async def test_server_error_is_retryable_and_the_retry_is_recognisably_the_same(receiver, channel):
    receiver.script = [(500, {}, "database is down")]
    reply = make_reply(receiver.url)
    with pytest.raises(DeliveryError) as err:
        await channel.send(reply)
    assert err.value.permanent is False
    assert err.value.retry_after is None
    assert "HTTP 500 Internal Server Error" in str(err.value)
    assert "database is down" not in str(err.value)  # what the receiver says is not shown in chat

    assert await channel.send(reply) == f"posted to {receiver.url}"
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-Pitchin-Delivery"] == second.headers["X-Pitchin-Delivery"]
    assert first.headers["X-Pitchin-Signature"] == second.headers["X-Pitchin-Signature"]


async def test_429_with_retry_after_seconds(receiver, channel):
    receiver.script = [(429, {"Retry-After": "7"}, "slow down")]
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(receiver.url))
    assert err.value.retry_after == 7.0
    assert err.value.permanent is False
    assert "HTTP 429 Too Many Requests" in str(err.value)


async def test_503_with_retry_after_http_date(receiver, channel):
    later = datetime.now(timezone.utc) + timedelta(seconds=120)
    receiver.script = [(503, {"Retry-After": format_datetime(later, usegmt=True)}, "maintenance")]
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(receiver.url))
    assert err.value.permanent is False
    assert 100 <= err.value.retry_after <= 121


async def test_429_with_garbage_retry_after_has_no_hint(receiver, channel):
    receiver.script = [(429, {"Retry-After": "soon-ish"}, "")]
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(receiver.url))
    assert err.value.retry_after is None
    assert err.value.permanent is False


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
async def test_client_errors_are_permanent(receiver, channel, status):
    receiver.script = [(status, {}, "no such ticket")]
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(receiver.url))
    assert err.value.permanent is True
    assert f"HTTP {status} " in str(err.value)
    assert "no such ticket" not in str(err.value)


async def test_redirect_is_not_followed_and_is_permanent(receiver, channel):
    receiver.script = [(301, {"Location": receiver.url + "/v2"}, "")]
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(receiver.url))
    assert err.value.permanent is True
    assert "redirect (HTTP 301 Moved Permanently)" in str(err.value)
    assert "/v2" not in str(err.value)  # the receiver's Location goes to the log, not to chat
    assert len(receiver.requests) == 1  # the body was not re-sent elsewhere (or as a GET)


async def test_nobody_listening_is_retryable(channel):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(f"http://127.0.0.1:{port}/hook"))
    assert str(err.value) == f"webhook host 127.0.0.1:{port} refused the connection"
    assert err.value.permanent is False


async def test_slow_receiver_times_out_retryably(receiver):
    receiver.hang = True
    ch = WebhookChannel(SECRET, LOOPBACK, timeout=0.3)
    try:
        with pytest.raises(DeliveryError) as err:
            await ch.send(make_reply(receiver.url))
        assert "did not answer within 0.3 s" in str(err.value)
        assert err.value.permanent is False
    finally:
        await ch.close()


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "mailto:ann@example.com"])
async def test_reply_url_that_is_not_http_is_permanent(channel, url):
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(url))
    assert err.value.permanent is True
    assert "not an http(s) address" in str(err.value)


async def test_missing_secret_refuses_to_send_unsigned_and_says_what_to_set(receiver):
    ch = WebhookChannel("", LOOPBACK)
    with pytest.raises(DeliveryError) as err:
        await ch.send(make_reply(receiver.url))
    assert "PITCHIN_WEBHOOK_SECRET is not set" in str(err.value)
    assert err.value.permanent is True  # retrying changes nothing until an admin sets it
    assert receiver.requests == []


# ---------------------------------------------------------------- the session


async def test_one_session_is_reused_and_close_releases_it(receiver):
    ch = WebhookChannel(SECRET, LOOPBACK)
    await ch.send(make_reply(receiver.url))
    session = ch._session
    await ch.send(make_reply(receiver.url))
    assert ch._session is session and not session.closed
    await ch.close()
    assert session.closed
    await ch.close()  # closing twice is harmless
    assert await ch.send(make_reply(receiver.url)) == f"posted to {receiver.url}"  # a new session
    await ch.close()
    assert len(receiver.requests) == 3


# ---------------------------------------------------------------- choosing webhook or email


class Recording:
    def __init__(self, name: str, sync_close: bool = False):
        self.name, self.sent, self.closed = name, [], False
        if sync_close:
            self.close = self._close_sync

    async def send(self, reply):
        self.sent.append(reply)
        return f"via {self.name}"

    async def close(self):
        self.closed = True

    def _close_sync(self):
        self.closed = True


async def test_router_uses_the_webhook_for_web_form_tickets_and_email_otherwise(receiver, tmp_path):
    from bot.inbox.email import MaildirChannel

    webhook = WebhookChannel(SECRET, LOOPBACK)
    router = CustomerRouter(MaildirChannel(tmp_path / "box", "help@acme.test"), webhook)
    try:
        assert await router.send(make_reply(receiver.url)) == f"posted to {receiver.url}"
        emailed = await router.send(make_reply(None))
        assert emailed.startswith("written to ") and emailed.endswith(".eml")
        assert len(receiver.requests) == 1
        assert len(list((tmp_path / "box" / "new").iterdir())) == 1
    finally:
        await router.close()
    assert webhook._session is None


async def test_router_close_closes_both_and_tolerates_missing_close():
    mail, hook = Recording("mail", sync_close=True), Recording("hook")
    await CustomerRouter(mail, hook).close()
    assert mail.closed and hook.closed

    class NoClose:
        async def send(self, reply):
            return "x"

    await CustomerRouter(NoClose(), NoClose()).close()  # nothing to close: no error


async def test_router_without_the_needed_channel_explains():
    with pytest.raises(DeliveryError, match="no webhook channel"):
        await CustomerRouter(Recording("mail"), None).send(make_reply("http://127.0.0.1:1/x"))
    with pytest.raises(DeliveryError, match="no way to email"):
        await CustomerRouter(None, Recording("hook")).send(make_reply(None))
