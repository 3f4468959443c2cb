"""A web form's reply_url reaches only where it should, end to end: HTTP intake, an employee's
answer in the Slack thread, the delivery worker. The "inside" server is the test's own on
127.0.0.1; made-up names resolve through a stub (tests/fakes/network.py), never a DNS server."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.inbox.webhook import sign_body
from handlers import tickets
from handlers.base import InboundMessage, utcnow
from tests.fakes.network import Listener, StubResolver
from tests.fakes.webhook import Receiver
from tests.slack.test_bad_input import counts
from tests.stack import TOKEN, LaterClock, start_stack, stop_stack

HOOK_SECRET = "form-backend-shares-this"
# a public address the stub may answer at intake, which only looks it up; a stub answers only
# loopback addresses when a reply goes out, so even a broken check could not reach past this machine
PUBLIC = "93.184.215.14"


@pytest.fixture
async def receiver():
    recv = await Receiver().start()
    yield recv
    await recv.stop()


@pytest.fixture
async def listener():
    port = await Listener().start()
    yield port
    await port.stop()


async def stack_with(sqlite_url, **settings):
    return await start_stack(sqlite_url, **{"webhook_secret": HOOK_SECRET, **settings})


def use_dns(stack, table: dict[str, list[str]]) -> StubResolver:
    """Make the stack's webhook channel resolve names from ``table`` (at intake and delivery); its
    own resolver has not started a thread yet, so nothing is left behind."""
    dns = StubResolver(table)
    stack.pitchin.customers.webhook_channel.resolver = dns
    return dns


def form(reply_url: str, **extra) -> dict:
    return {"email": "dan@example.com", "name": "Dan", "text": "Where is my order?", "reply_url": reply_url, **extra}


def everything_slack_got(stack) -> str:
    return "\n".join(json.dumps(c.args, ensure_ascii=False) + c.body for c in stack.slack.calls)


async def answer_in_thread(stack, text: str = "It ships tomorrow.") -> None:
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.say_in_thread("UANN", text, root_ts)


async def slack_shows(stack, words: str, timeout: float = 15) -> str:
    """Everything Slack received, once it includes ``words`` (polled until the deadline)."""
    deadline = time.monotonic() + timeout
    while words not in (shown := everything_slack_got(stack)):
        assert time.monotonic() < deadline, f"Slack was never shown {words!r}; it got:\n{shown}"
        await asyncio.sleep(0.02)
    return shown


# ---------------------------------------------------------------- refused at intake


async def test_a_reply_url_on_this_machine_is_refused_and_its_server_gets_nothing(sqlite_url, receiver):
    stack = await stack_with(sqlite_url)
    try:
        before = counts(stack)
        status, body = await stack.post_message(form(receiver.url))
        assert status == 400
        assert body["error"] == ("'reply_url' points at 127.0.0.1, a loopback address; Pitchin only posts to "
                                 "public https addresses. An admin can allow it with PITCHIN_WEBHOOK_ALLOW.")
        status, body = await stack.post_message(form(f"https://127.0.0.1:{receiver.port}/x"))
        assert status == 400 and "a loopback address" in body["error"]
        assert counts(stack) == before and receiver.requests == []
    finally:
        await stop_stack(stack)


@pytest.mark.parametrize("url, words", [
    ("https://10.0.0.1/hook", "points at 10.0.0.1, a private address (RFC 1918)"),
    ("https://169.254.169.254/latest/meta-data/", "a link-local address (where cloud metadata services answer)"),
    ("https://[::1]/hook", "points at ::1, a loopback address"),
    ("https://[fd00::1]/hook", "points at fd00::1, an IPv6 unique local address"),
    ("https://[::ffff:127.0.0.1]/hook", "a loopback address (IPv4 127.0.0.1 written as IPv6)"),
    ("https://0.0.0.0/hook", "points at 0.0.0.0, an unspecified address"),
    ("https://100.64.1.1/hook", "a carrier-grade NAT address"),
    ("https://2130706433/hook", "an IP address in a legacy numeric form"),
    ("http://hooks.example.com/hook", "uses plain http"),
])
async def test_addresses_inside_are_refused_at_intake_without_a_lookup(sqlite_url, url, words):
    stack = await stack_with(sqlite_url)
    dns = use_dns(stack, {})
    try:
        before = counts(stack)
        status, body = await stack.post_message(form(url))
        assert status == 400 and words in body["error"]
        assert counts(stack) == before
        assert dns.asked == []  # decided from the URL alone: nothing looked up, nothing connected
    finally:
        await stop_stack(stack)


async def test_a_name_that_resolves_inside_is_refused_and_one_that_does_not_resolve_yet_is_taken(sqlite_url):
    stack = await stack_with(sqlite_url)
    use_dns(stack, {"hooks.sneaky.test": ["127.0.0.1"], "hooks.shop.example": [PUBLIC]})
    try:
        status, body = await stack.post_message(form("https://hooks.sneaky.test/x"))
        assert status == 400
        assert "points at hooks.sneaky.test, which resolves to 127.0.0.1, a loopback address" in body["error"]
        status, _ = await stack.post_message(form("https://hooks.shop.example/x", external_id="a"))
        assert status == 202
        status, _ = await stack.post_message(form("https://not-yet.shop.example/x", external_id="b"))
        assert status == 202  # it may resolve later; delivery checks it then
    finally:
        await stop_stack(stack)


async def test_without_a_webhook_secret_reply_urls_are_refused_not_signed_with_the_intake_token(sqlite_url):
    stack = await start_stack(sqlite_url)  # PITCHIN_INTAKE_TOKEN is set, PITCHIN_WEBHOOK_SECRET is not
    try:
        status, body = await stack.post_message(form("https://hooks.shop.example/x"))
        assert status == 503 and "no PITCHIN_WEBHOOK_SECRET" in body["error"]
        assert "leave 'reply_url' out" in body["error"]
        status, _ = await stack.post_message({"email": "dan@example.com", "text": "Where is my order?"})
        assert status == 202  # replies by email need no secret
    finally:
        await stop_stack(stack)


# ---------------------------------------------------------------- refused at delivery


async def store_web_ticket(stack, reply_url: str) -> None:
    """A web-form ticket stored without /intake/messages' checks (as an older version, or another
    door, could have stored it): the delivery worker must check on its own."""
    message = InboundMessage(source="web", external_key="web:old-form-1", sender_email="dan@example.com",
                             sender_name="Dan", subject="Where is my order?", text="Where is my order?",
                             received_at=utcnow(), reply_url=reply_url)
    await stack.pitchin.db.run(tickets.intake, stack.pitchin.ctx, message)


async def test_a_ticket_that_holds_a_loopback_reply_url_is_never_posted_there(sqlite_url, receiver):
    stack = await stack_with(sqlite_url)
    try:
        await store_web_ticket(stack, receiver.url)
        await answer_in_thread(stack)
        shown = await slack_shows(stack, "points at 127.0.0.1, a loopback address")
        assert "Pitchin gave up" in shown  # permanent: retrying would change nothing
        assert receiver.requests == []
    finally:
        await stop_stack(stack)


async def test_without_a_webhook_secret_the_reply_fails_visibly_and_says_what_to_set(sqlite_url, listener):
    # PITCHIN_INTAKE_TOKEN is set, PITCHIN_WEBHOOK_SECRET is not; the address would be allowed
    stack = await start_stack(sqlite_url, webhook_allow="127.0.0.1")
    dns = use_dns(stack, {"hooks.shop.example": ["127.0.0.1"]})
    try:
        await store_web_ticket(stack, f"https://hooks.shop.example:{listener.port}/replies")
        await answer_in_thread(stack)
        shown = await slack_shows(stack, "PITCHIN_WEBHOOK_SECRET is not set")
        assert "Pitchin gave up" in shown
        assert dns.asked == [] and listener.connections == 0  # nothing looked up, nothing sent unsigned
    finally:
        await stop_stack(stack)


async def test_a_name_that_turns_inward_after_intake_is_refused_before_connecting(sqlite_url, listener):
    stack = await stack_with(sqlite_url)
    dns = use_dns(stack, {"hooks.rebind.test": [PUBLIC]})
    try:
        status, _ = await stack.post_message(form(f"https://hooks.rebind.test:{listener.port}/x"))
        assert status == 202
        dns.table["hooks.rebind.test"] = ["127.0.0.1"]  # DNS rebinding
        await answer_in_thread(stack)
        await slack_shows(stack, "points at hooks.rebind.test, which resolves to 127.0.0.1, a loopback address")
        assert listener.connections == 0
    finally:
        await stop_stack(stack)


# ---------------------------------------------------------------- allowed, signed, and nothing echoed


async def test_an_allowed_address_gets_the_reply_signed_with_the_webhook_secret(sqlite_url, receiver):
    stack = await stack_with(sqlite_url, webhook_allow="127.0.0.1")
    receiver.script = [(503, {}, "")]  # the customer's site hiccups once
    try:
        status, body = await stack.post_message(form(receiver.url, external_id="order-form-77"))
        assert status == 202 and body["new_ticket"]
        await answer_in_thread(stack)
        await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "warning")
        stack.pitchin.ctx.clock = LaterClock()
        await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "white_check_mark", timeout=15)
        _, delivered = receiver.requests
        payload = json.loads(delivered.body)
        assert payload["text"] == "It ships tomorrow." and payload["external_id"] == "order-form-77"
        assert payload["to"] == "dan@example.com" and payload["ticket_id"] == body["ticket_id"]
        assert delivered.headers["X-Pitchin-Signature"] == sign_body(HOOK_SECRET, delivered.body)
        assert delivered.headers["X-Pitchin-Signature"] != sign_body(TOKEN, delivered.body)
        assert stack.smtp.messages == []  # a web-form ticket is not emailed
    finally:
        await stop_stack(stack)


async def test_what_a_failing_webhook_answers_never_reaches_chat(sqlite_url, receiver):
    stack = await stack_with(sqlite_url, webhook_allow="127.0.0.1")
    receiver.script = [(500, {}, "upstream said SECRET-TOKEN-123", "SECRET-TOKEN-123"),
                       (403, {"X-Debug": "SECRET-TOKEN-123"}, "SECRET-TOKEN-123 is not allowed here")]
    try:
        status, _ = await stack.post_message(form(receiver.url))
        assert status == 202
        await answer_in_thread(stack)
        await slack_shows(stack, "has not been delivered")  # the 500: Pitchin keeps trying
        stack.pitchin.ctx.clock = LaterClock()
        shown = await slack_shows(stack, "Pitchin gave up")  # the 403
        assert len(receiver.requests) == 2
        assert "SECRET-TOKEN-123" not in shown  # nowhere in anything the fake Slack received
        assert "HTTP 500 Internal Server Error" in shown and "HTTP 403 Forbidden" in shown
    finally:
        await stop_stack(stack)
