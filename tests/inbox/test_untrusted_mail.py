"""Customer mail is untrusted, end to end through HTTP intake: automatic replies never open tickets,
one sender cannot flood the channel, an ambiguous From is never answered to the wrong person, and
the card says when a sender is not verified."""

from __future__ import annotations

import json
import logging

import pytest
from sqlmodel import select

from handlers import floods, outbound
from storage.models import OutboxJob, Ticket, TicketMessage
from tests.conftest import FakeClock
from tests.slack.test_ticket_loop import block_texts
from tests.stack import raw_mail, start_stack, stop_stack


def mail(*extra: str, sender="Carol Customer <carol@example.com>", subject="Double charge",
         body="My card was charged twice.", message_id="<m1@mail.example.com>", in_reply_to=None) -> bytes:
    """``raw_mail`` with extra header lines (``"Auto-Submitted: auto-replied"``) before the others."""
    raw = raw_mail(subject=subject, body=body, sender=sender, message_id=message_id, in_reply_to=in_reply_to)
    return "".join(line + "\r\n" for line in extra).encode() + raw


@pytest.fixture
async def stack(sqlite_url):
    s = await start_stack(sqlite_url)
    yield s
    await stop_stack(s)


def rows(stack, model, *where):
    with stack.pitchin.db.transaction() as session:
        return list(session.exec(select(model).where(*where)).all())


def thread_posts(stack, root_ts: str) -> list[str]:
    return [c.args["text"] for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == root_ts]


# ---------------------------------------------------------------- automatic replies


async def test_an_auto_reply_to_a_closed_ticket_joins_its_thread_and_leaves_it_closed(stack):
    _, first = await stack.post_email(mail())
    ticket = first["ticket_id"]
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.click("ticket.close", str(ticket), "UANN", root_ts)
    await stack.slack.wait_for("chat.update", where=lambda c: c.args["ts"] == root_ts)

    status, body = await stack.post_email(mail(
        "Auto-Submitted: auto-replied", subject="Out of office: Double charge", body="I am away until Monday.",
        message_id="<ooo@mail.example.com>", in_reply_to="<m1@mail.example.com>"))

    assert status == 202 and body["ticket_id"] == ticket and body["new_ticket"] is False
    post = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts)
    assert "An automatic reply came in (Auto-Submitted: auto-replied)" in post[0].args["text"]
    assert "I am away until Monday." in post[0].args["text"]
    (closed,) = rows(stack, Ticket)
    assert closed.status == "closed"
    assert [m.kind for m in rows(stack, TicketMessage, TicketMessage.ticket_id == ticket)] == ["customer", "auto"]
    # the close was the only redraw: nothing queued one for a reopening
    assert len(rows(stack, OutboxJob, OutboxJob.kind == "chat.update_ticket")) == 1


async def test_an_auto_reply_that_answers_no_ticket_is_dropped_and_logged(stack, caplog):
    caplog.set_level(logging.INFO, logger="pitchin")
    bounce = mail("Auto-Submitted: auto-replied", sender="Mail Delivery System <MAILER-DAEMON@mx.example.com>",
                  subject="Undelivered Mail Returned to Sender", body="Your message could not be delivered.",
                  message_id="<bounce@mx.example.com>")
    status, body = await stack.post_email(bounce)

    assert status == 202
    assert body["ticket_id"] is None and body["message_id"] is None and body["new_ticket"] is False
    assert body["ignored"] == "auto-reply" and "answers no ticket" in body["reason"]
    assert any("ignored a mail from mailer-daemon@mx.example.com" in r.getMessage() for r in caplog.records)
    # a person's mail after it is posted; the bounce before it never was
    _, person = await stack.post_email(mail(message_id="<m2@mail.example.com>"))
    post = await stack.ticket_post()
    assert f"#{person['ticket_id']} · Double charge" in block_texts(post.args["blocks"])
    assert len(stack.slack.calls_to("chat.postMessage")) == 1
    assert len(rows(stack, Ticket)) == 1 and len(rows(stack, TicketMessage)) == 1


# ---------------------------------------------------------------- floods


async def test_a_sender_opening_more_than_five_tickets_in_an_hour_is_folded(stack):
    clock = FakeClock()
    stack.pitchin.ctx.clock = clock
    answers = []
    for i in range(8):
        status, body = await stack.post_email(mail(sender="Fran <fran@example.com>", subject=f"Help {i}",
                                                   body=f"Problem number {i}.", message_id=f"<f{i}@example.com>"))
        assert status == 202
        answers.append(body)

    assert [a["new_ticket"] for a in answers] == [True] * 5 + [False] * 3
    latest = answers[4]["ticket_id"]
    assert [a["ticket_id"] for a in answers[5:]] == [latest] * 3
    assert all(a["folded"] is True and "fran@example.com opened more than 5 tickets" in a["reason"] for a in answers[5:])

    # another sender is not affected
    status, dave = await stack.post_email(mail(sender="dave@example.com", message_id="<d1@example.com>"))
    assert dave["new_ticket"] is True and "folded" not in dave

    # the three folded mails cost one queued thread post, sent after the batching delay
    assert len(rows(stack, OutboxJob, OutboxJob.kind == "chat.notice")) == 1
    posts = await stack.slack.wait_for("chat.postMessage", count=6, where=lambda c: not c.args.get("thread_ts"))
    root_ts = next(p.response["ts"] for p in posts if f"#{latest} · Help 4" in p.args["text"])
    await stack.anchored(root_ts)
    clock.advance(floods.BATCH_SECONDS + 1)
    stack.pitchin.worker.wake()
    (notice,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts)
    text = notice.args["text"]
    assert text.startswith(f"Folded: fran@example.com opened more than 5 tickets in an hour; these 3 mails joined #{latest}.")
    assert "Help 5" in text and "Problem number 7." in text
    assert len(rows(stack, Ticket)) == 6
    assert len(rows(stack, TicketMessage, TicketMessage.ticket_id == latest)) == 4

    # an hour later Fran opens tickets again
    clock.advance(3600)
    status, later = await stack.post_email(mail(sender="fran@example.com", subject="Again", message_id="<f9@example.com>"))
    assert status == 202 and later["new_ticket"] is True and later["ticket_id"] not in {a["ticket_id"] for a in answers}


# ---------------------------------------------------------------- who is answered


async def test_a_display_name_that_is_an_address_is_not_answered(stack):
    status, body = await stack.post_email(mail(sender="victim@third.example <attacker@evil.example>"))
    assert status == 202
    (ticket,) = rows(stack, Ticket)
    assert ticket.customer_email == "attacker@evil.example" and ticket.customer_name == "attacker"

    post = await stack.ticket_post()
    assert "victim@third.example" not in json.dumps(post.args)
    root_ts = post.response["ts"]
    await stack.click("ticket.claim", str(body["ticket_id"]), "UANN", root_ts)
    await stack.say_in_thread("UANN", "We refunded the second charge.", root_ts)
    (sent,) = await stack.smtp.wait_for(1)
    assert sent.rcpt_tos == ["attacker@evil.example"]
    assert "attacker@evil.example" in sent["To"] and "victim" not in sent["To"]


@pytest.mark.parametrize("sender", [
    "a@x.example, b@y.example",
    "Carol <carol@example.com> <attacker@evil.example>",
    "victim@third.example attacker@evil.example",
], ids=["list", "two-angle-addresses", "two-bare-addresses"])
async def test_a_from_header_naming_several_addresses_is_refused(stack, sender):
    status, body = await stack.post_email(mail(sender=sender))
    assert status == 400
    assert "The From header is ambiguous" in body["error"] and "more than one address" in body["error"]
    assert rows(stack, Ticket) == []


async def test_two_from_headers_are_refused(stack):
    status, body = await stack.post_email(mail("From: attacker@evil.example"))
    assert status == 400 and "The From header is ambiguous: the email has 2 From headers" in body["error"]


# ---------------------------------------------------------------- unverified senders on the card


async def test_a_mail_that_failed_dmarc_is_flagged_on_the_card_and_a_pass_proves_nothing(stack):
    results = "Authentication-Results: mx.acme.test; spf=pass smtp.mailfrom=example.com; dmarc=fail (p=reject) header.from=example.com"
    status, body = await stack.post_email(mail(results))
    assert status == 202
    card = block_texts((await stack.ticket_post()).args["blocks"])
    assert "⚠️ DMARC failed: this mail may not be from carol@example.com" in card

    # the same card on Teams
    from bot.teams.render import ticket_card

    teams = json.dumps(ticket_card(outbound.card_for(stack.pitchin.ctx, body["ticket_id"])), ensure_ascii=False)
    assert "⚠️ DMARC failed: this mail may not be from carol@example.com" in teams

    # a pass is written as easily as a fail: it is not shown as "verified"
    await stack.post_email(mail("Authentication-Results: mx.acme.test; dmarc=pass header.from=example.com",
                                sender="dave@example.com", message_id="<d1@example.com>"))
    card = block_texts((await stack.ticket_post(1)).args["blocks"])
    assert "dave@example.com" in card and "DMARC" not in card and "verified" not in card.lower()


async def test_a_web_form_ticket_says_its_email_is_not_verified(stack):
    status, body = await stack.post_message({"email": "carol@example.com", "text": "Where is my order?"})
    assert status == 202
    card = block_texts((await stack.ticket_post()).args["blocks"])
    assert "⚠️ Email not verified" in card
