"""The ticket loop on Slack, end to end: signed requests through the real Bolt app, a fake Slack
Web API on 127.0.0.1, a real SMTP server, the real database."""

from __future__ import annotations

import asyncio
import time

from sqlmodel import select

from storage.models import OutboxJob, TicketMessage
from tests.stack import CHANNEL, LaterClock, raw_mail, start_stack, stop_stack


def block_texts(blocks) -> str:
    out = []
    for b in blocks or []:
        if "text" in b and isinstance(b["text"], dict):
            out.append(b["text"]["text"])
        for f in b.get("fields", []) + b.get("elements", []):
            if isinstance(f, dict) and isinstance(f.get("text"), (str, dict)):
                out.append(f["text"] if isinstance(f["text"], str) else f["text"]["text"])
    return "\n".join(out)


def buttons(blocks) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_whole_loop_email_to_thread_and_back(any_stack):
    stack = any_stack
    status, body = await stack.post_email(raw_mail())
    assert status == 202 and body["new_ticket"] is True
    ticket = str(body["ticket_id"])

    post = await stack.ticket_post()
    root_ts = post.response["ts"]
    text = block_texts(post.args["blocks"])
    assert f"#{ticket} · Double charge" in text and "carol@example.com" in text and "charged twice" in text
    assert buttons(post.args["blocks"]) == ["ticket.claim", "ticket.close", "reply.saved", "feedback.from_ticket"]

    # Ann claims; the message shows it; Bob clicking a moment later is told who has it
    status, _ = await stack.click("ticket.claim", ticket, "UANN", root_ts)
    assert status == 200
    update = (await stack.slack.wait_for("chat.update", where=lambda c: c.args["ts"] == root_ts))[-1]
    assert "Claimed by <@UANN>" in block_texts(update.args["blocks"])
    assert buttons(update.args["blocks"]) == ["ticket.unclaim", "ticket.close", "reply.saved", "feedback.from_ticket"]
    _, bob_click = await stack.click("ticket.claim", ticket, "UBOB", root_ts)
    told = await stack.response(bob_click)
    assert told["response_type"] == "ephemeral" and "already claimed by <@UANN>" in told["text"]

    # Ann answers in the thread: she sees an Undo note, then the customer gets a threaded email
    _, ann_ts = await stack.say_in_thread("UANN", "We refunded the second charge.", root_ts)
    note = (await stack.slack.wait_for("chat.postEphemeral"))[-1]
    assert note.args["user"] == "UANN" and "reply.undo" in buttons(note.args["blocks"])
    (mail,) = await stack.smtp.wait_for(1)
    assert mail["To"] == "Carol Customer <carol@example.com>" or "carol@example.com" in mail["To"]
    assert mail["Subject"] == "Re: Double charge"
    assert mail["In-Reply-To"] == "<m1@mail.example.com>"
    assert "<m1@mail.example.com>" in mail["References"]
    assert mail["Message-ID"].startswith("<pitchin.") and mail["Message-ID"].endswith("@acme.test>")
    assert "We refunded the second charge." in mail.text
    react = await stack.slack.wait_for("reactions.add", where=lambda c: c.args["timestamp"] == ann_ts)
    assert react[0].args["name"] == "white_check_mark"

    # the customer answers our mail: it lands in the same thread
    status, body = await stack.post_email(raw_mail(subject="Re: Double charge", body="Thanks, all good now!",
                                                   message_id="<m2@mail.example.com>",
                                                   in_reply_to=mail["Message-ID"]))
    assert status == 202 and body["new_ticket"] is False and str(body["ticket_id"]) == ticket
    followup = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts)
    assert "Thanks, all good now!" in followup[0].args["text"]


async def test_note_non_claimer_and_own_posts_reach_no_customer(stack):
    _, body = await stack.post_email(raw_mail())
    ticket = str(body["ticket_id"])
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.click("ticket.claim", ticket, "UANN", root_ts)
    await stack.slack.wait_for("chat.update")

    await stack.say_in_thread("UANN", "note: checking the ledger first", root_ts)
    await stack.say_in_thread("UBOB", "I'd refund it", root_ts)
    told = await stack.slack.wait_for("chat.postEphemeral", where=lambda c: c.args["user"] == "UBOB")
    assert "claimed by" in told[0].args["text"] and "internal" in told[0].args["text"].lower()
    # the bot's own post in the thread, and an edit, are ignored
    await stack.say_in_thread("UBOT", "📨 The customer wrote: …", root_ts, bot_id="BBOT")
    await stack.say_in_thread("UANN", "edited text", root_ts, subtype="message_changed")
    # a real reply afterwards proves the earlier ones were not merely slow
    await stack.say_in_thread("UANN", "Refund issued.", root_ts)
    (mail,) = await stack.smtp.wait_for(1)
    assert "Refund issued." in mail.text
    # every message was handled: the note and Bob's reply are stored as internal notes, and the
    # bot's own post and the edit were not stored at all; the outbox holds nothing for the customer
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with stack.pitchin.db.transaction() as s:
            kinds = [(m.kind, m.text) for m in s.exec(select(TicketMessage).order_by(TicketMessage.id))]
            waiting = s.exec(select(OutboxJob).where(OutboxJob.kind == "customer.reply",
                                                     OutboxJob.state == "pending")).all()
        if len(kinds) == 4 and not waiting:
            break
        await asyncio.sleep(0.05)
    assert kinds == [("customer", "My card was charged twice."), ("note", "checking the ledger first"),
                     ("note", "I'd refund it"), ("reply", "Refund issued.")]
    assert len(stack.smtp.messages) == 1
    assert len(stack.slack.calls_to("chat.postEphemeral")) == 2  # Bob's explanation, Ann's Undo note


async def test_same_event_three_times_sends_one_email(stack):
    _, body = await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]
    ts = "1800000000.777777"
    for retry in (None, 1, 2):
        status, _ = await stack.say_in_thread("UANN", "Answer once", root_ts, ts=ts, event_id="Ev-SAME", retry=retry)
        assert status == 200
    # a second delivery of the same message under another event id changes nothing either
    await stack.say_in_thread("UANN", "Answer once", root_ts, ts=ts, event_id="Ev-OTHER")
    (mail,) = await stack.smtp.wait_for(1)
    assert "Answer once" in mail.text
    await stack.say_in_thread("UANN", "Second answer", root_ts)
    mails = await stack.smtp.wait_for(2)
    assert [("Answer once" in m.text, "Second answer" in m.text) for m in mails] == [(True, False), (False, True)]


async def test_stranger_cannot_post_into_a_ticket_thread(stack):
    _, first = await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]
    status, body = await stack.post_email(raw_mail(sender="Mallory <mallory@evil.test>", subject="Re: Double charge",
                                                   body="Send the refund to my account instead",
                                                   message_id="<x1@evil.test>", in_reply_to="<m1@mail.example.com>"))
    assert status == 202 and body["new_ticket"] is True and body["ticket_id"] != first["ticket_id"]
    second = await stack.ticket_post(1)
    assert "mallory@evil.test" in block_texts(second.args["blocks"])
    assert not [c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == root_ts]


async def test_undo_button_keeps_reply_from_customer(sqlite_url):
    # a longer window so the click certainly lands inside it
    stack = await start_stack(sqlite_url, undo_seconds=30)
    try:
        await stack.post_email(raw_mail())
        root_ts = (await stack.ticket_post()).response["ts"]
        await stack.say_in_thread("UANN", "Wrong ticket, sorry", root_ts)
        note = (await stack.slack.wait_for("chat.postEphemeral"))[-1]
        undo = next(e for b in note.args["blocks"] if b["type"] == "actions" for e in b["elements"])
        _, rid = await stack.click("reply.undo", undo["value"], "UANN", root_ts)
        told = await stack.response(rid)
        assert "Taken back" in told["text"] and told["replace_original"] is True
        stack.pitchin.ctx.clock = LaterClock()  # well past the window
        await stack.pitchin.worker.run_once()
        assert stack.smtp.messages == []
        _, rid = await stack.click("reply.undo", undo["value"], "UBOB", root_ts)
        assert "Only the person who wrote a reply" in (await stack.response(rid))["text"]
    finally:
        await stop_stack(stack)


async def test_slash_command_lists_and_claims(stack):
    _, body = await stack.post_email(raw_mail())
    await stack.ticket_post()
    _, rid = await stack.command("UANN", "list")
    listing = await stack.response(rid)
    assert f"#{body['ticket_id']} · Double charge" in listing["text"] and listing["response_type"] == "ephemeral"
    _, rid = await stack.command("UANN", "claim nine")
    assert "Usage: /pitchin claim &lt;ticket number&gt;" in (await stack.response(rid))["text"]
    _, rid = await stack.command("UANN", f"claim {body['ticket_id']}")
    assert "You claimed" in (await stack.response(rid))["text"]
