"""Bad input gets a clear answer, and nothing is stored half-way."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from storage.models import OutboxJob, Ticket, TicketMessage
from tests.fakes.slack_api import event_body, message_event
from tests.stack import CHANNEL, raw_mail


def counts(stack) -> tuple[int, int, int]:
    with stack.pitchin.db.transaction() as s:
        return tuple(s.execute(select(func.count()).select_from(t)).scalar_one() for t in (Ticket, TicketMessage, OutboxJob))


async def test_forged_and_stale_slack_signatures_are_refused(stack):
    body = event_body(message_event(CHANNEL, "UANN", "hi", "1800000000.000001", thread_ts="1700000000.000100"))
    status, text = await stack.slack_post(body, "application/json", secret="not-the-secret")
    assert status == 401
    status, _ = await stack.slack_post(body, "application/json", timestamp=int(time.time()) - 6 * 60)
    assert status == 401
    status, _ = await stack.slack_post(body, "application/json")
    assert status == 200


@pytest.mark.parametrize("token, status, words", [
    (None, 401, "Missing token"),
    ("wrong", 401, "Wrong token"),
])
async def test_intake_token_missing_or_wrong(stack, token, status, words):
    before = counts(stack)
    got, body = await stack.post_email(raw_mail(), token=token)
    assert got == status and words in body["error"]
    got, body = await stack.post_message({"email": "a@example.com", "text": "hi"}, token=token)
    assert got == status and words in body["error"]
    assert counts(stack) == before


async def test_intake_without_configured_token_refuses_everything(sqlite_url, caplog):
    from tests.stack import start_stack, stop_stack

    s = await start_stack(sqlite_url, intake_token="")
    try:
        status, body = await s.post_email(raw_mail(), token="anything")
        assert status == 503 and "PITCHIN_INTAKE_TOKEN" in body["error"]
        assert "PITCHIN_INTAKE_TOKEN is not set" in caplog.text
        assert counts(s) == (0, 0, 0)
    finally:
        await stop_stack(s)


@pytest.mark.parametrize("payload, words", [
    ("{not json", "Malformed JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"text": "hi"}), "'email' is required"),
    (json.dumps({"email": "not-an-address", "text": "hi"}), "not an email address"),
    (json.dumps({"email": "a@example.com", "text": "   "}), "'text' is required"),
    (json.dumps({"email": "a@example.com", "text": "hi", "reply_url": "ftp://x"}), "'reply_url' must be"),
    (json.dumps({"email": "a@example.com", "text": "hi", "colour": "red"}), "unknown field"),
])
async def test_malformed_web_messages(stack, payload, words):
    before = counts(stack)
    status, body = await stack.post_message(payload)
    assert status == 400 and words in body["error"]
    assert counts(stack) == before


@pytest.mark.parametrize("raw, words", [
    (b"", "Empty body"),
    (b"\x00\x01\x02 this is not mail \xff\xfe", "Not a usable email"),
    (b"Subject: no sender\r\n\r\nhello\r\n", "Not a usable email"),
])
async def test_malformed_mime(stack, raw, words):
    before = counts(stack)
    status, body = await stack.post_email(raw)
    assert status == 400 and words in body["error"]
    assert counts(stack) == before


async def test_oversize_email_is_refused_with_413(stack):
    big = raw_mail(body="x" * (10 * 1024 * 1024 + 10))
    before = counts(stack)
    status, body = await stack.post_email(big)
    assert status == 413 and "too large" in body["error"] and "10 MB" in body["error"]
    assert counts(stack) == before


async def test_duplicate_intake_is_idempotent(stack):
    first = await stack.post_email(raw_mail())
    second = await stack.post_email(raw_mail())
    assert first[0] == second[0] == 202
    assert second[1] == {**first[1], "new_ticket": False}
    one = await stack.post_message({"email": "a@example.com", "text": "hi", "external_id": "form-42"})
    two = await stack.post_message({"email": "a@example.com", "text": "hi", "external_id": "form-42"})
    assert one[1]["ticket_id"] == two[1]["ticket_id"] and two[1]["new_ticket"] is False
    await stack.ticket_post(1)
    assert len([c for c in stack.slack.calls_to("chat.postMessage") if not c.args.get("thread_ts")]) == 2


async def test_unknown_ticket_button_and_command(stack):
    _, rid = await stack.click("ticket.claim", "999", "UANN", "1700000000.000100")
    told = await stack.response(rid)
    assert "There is no ticket #999" in told["text"] and told["response_type"] == "ephemeral"
    _, rid = await stack.command("UANN", "close 999")
    assert "There is no ticket #999" in (await stack.response(rid))["text"]
    _, rid = await stack.command("UANN", "frobnicate")
    assert "does not know “frobnicate”" in (await stack.response(rid))["text"]
