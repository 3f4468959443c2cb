"""Use a saved reply on Slack, through signed requests to the real app: the ticket card's button (or
the message shortcut in the thread) opens a modal for the clicking person with the three closest saved
replies filled in; Send posts the reply in the ticket's thread and the normal reply path takes it to
the customer by SMTP after the undo window, exactly once. Placeholders are refused before anything
is posted."""

from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy import select

from storage.models import OutboxJob, SavedReply, SavedReplyExample, TicketMessage
from tests.fakes.slack_api import message_shortcut_body, new_trigger_id, shortcut_message, view_problems
from tests.slack import feedback_steps as fb
from tests.stack import CHANNEL, raw_mail

ASKED = "I ordered a new card two weeks ago and it still hasn't come"
REPLIES = [
    ("Refund", "Hi {customer.first_name|there}, we have refunded the payment; it reaches you in 5 to 10 days."),
    ("Card delivery", "Hi {customer.first_name|there}, a new card arrives by post within 7 working days "
                      "(ticket {ticket.number}). [[tracking number]] {me.first_name}"),
    ("Reset password", "To reset your password, click “Forgot password” on the sign-in page."),
    ("Opening hours", "Our support team answers from 9:00 to 17:00, Monday to Friday."),
]


def save_replies(stack, replies=REPLIES) -> dict[str, int]:
    with stack.pitchin.db.transaction() as session:
        rows = [SavedReply(name=name, name_key=name.lower(), text=text) for name, text in replies]
        session.add_all(rows)
        session.flush()
        return {row.name: row.id for row in rows}


async def a_ticket(stack) -> tuple[str, str]:
    _, body = await stack.post_email(raw_mail(subject="Where is my card?", body=ASKED))
    post = await stack.ticket_post()
    return str(body["ticket_id"]), post.response["ts"]


def options(view) -> list[str]:
    return [o["text"]["text"] for o in fb.inputs(view)["choice"]["options"]]


def thread_posts(stack, root_ts: str) -> list:
    return [c for c in stack.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == root_ts]


async def settled(stack, kind: str) -> list[OutboxJob]:
    deadline = time.monotonic() + 10
    while True:
        with stack.pitchin.db.transaction() as session:
            jobs = [j for (j,) in session.execute(select(OutboxJob).where(OutboxJob.kind == kind))]
        if jobs and all(j.state == "done" for j in jobs):
            return jobs
        assert time.monotonic() < deadline, [(j.kind, j.state) for j in jobs]
        await asyncio.sleep(0.02)


async def test_the_button_offers_three_filled_in_and_send_is_the_normal_reply(any_stack):
    stack = any_stack
    stack.slack.set_user("UANN", "Ann Lee", "ann@acme.test")
    ids = save_replies(stack)
    ticket, root_ts = await a_ticket(stack)
    status, _ = await stack.click("reply.saved", ticket, "UANN", root_ts)
    assert status == 200
    (call,) = await stack.slack.wait_for("views.open")
    view = call.response["view"]
    assert view_problems(view) == []
    assert options(view)[0] == "1. Card delivery" and len(options(view)) == 3
    boxes = fb.inputs(view)
    card_text = boxes["text_0"]["initial_value"]
    assert card_text == (f"Hi Carol, a new card arrives by post within 7 working days (ticket {ticket}). "
                         "[[tracking number]] Ann")
    assert json.loads(view["private_metadata"])["ticket_id"] == int(ticket)
    assert thread_posts(stack, root_ts) == []  # only the person who clicked sees it

    # an unfilled placeholder: refused in the modal, nothing posted, nothing queued
    ack = await fb.submit(stack, "UANN", view, {})
    assert ack["response_action"] == "errors" and "[[tracking number]]" in ack["errors"]["text_0"]
    assert thread_posts(stack, root_ts) == []
    with stack.pitchin.db.transaction() as session:
        assert session.execute(select(TicketMessage).where(TicketMessage.kind == "reply")).first() is None

    sent = card_text.replace("[[tracking number]]", "Tracking: RR123.")
    ack = await fb.submit(stack, "UANN", view, {"text_0": sent})
    assert ack is None  # the modal closes
    (post,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts)
    assert post.args["text"] == f"Ann Lee (saved reply “Card delivery”): {sent}"
    note = (await stack.slack.wait_for("chat.postEphemeral"))[-1]
    assert note.args["user"] == "UANN" and "reply.undo" in str(note.args["blocks"])
    (mail,) = await stack.smtp.wait_for(1)
    assert sent in mail.text and "saved reply" not in mail.text and mail["Subject"] == "Re: Where is my card?"
    react = await stack.slack.wait_for("reactions.add", where=lambda c: c.args["timestamp"] == post.response["ts"])
    assert react[0].args["name"] == "white_check_mark"
    (job,) = await settled(stack, "customer.reply")
    await asyncio.sleep(0.2)  # a second delivery would have had time to happen
    assert len(stack.smtp.messages) == 1
    with stack.pitchin.db.transaction() as session:
        assert session.get(SavedReply, ids["Card delivery"]).uses == 1
        assert [e.saved_reply_id for (e,) in session.execute(select(SavedReplyExample))] == [ids["Card delivery"]]
    assert stack.slack.violations == []


async def test_the_shortcut_in_the_thread_and_no_saved_replies_yet(stack):
    ticket, root_ts = await a_ticket(stack)
    # nothing saved yet: the person is told how to add one
    _, response_id = await stack.click("reply.saved", ticket, "UBOB", root_ts)
    told = await stack.response(response_id)
    assert told["response_type"] == "ephemeral" and "`saved add &lt;name&gt;`" in told["text"]
    assert stack.slack.calls_to("views.open") == []

    save_replies(stack)
    said = shortcut_message("UBOB", "any news?", "1800000000.000500", thread_ts=root_ts)
    trigger = new_trigger_id()
    body = message_shortcut_body("use_saved_reply", "UBOB", CHANNEL, said,
                                 stack.slack.url_for_response("sc-use"), trigger_id=trigger)
    status, _ = await stack.slack_post(body, fb.FORM)
    assert status == 200
    view = await fb.opened(stack, trigger)
    assert options(view)[0] == "1. Card delivery"
    # Bob picks another one and sends it as it is
    ack = await fb.submit(stack, "UBOB", view, {"choice": "2"})
    assert ack is None
    (post,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts)
    chosen = fb.inputs(view)["text_2"]["initial_value"]
    assert post.args["text"].endswith(f"): {chosen}")
    (mail,) = await stack.smtp.wait_for(1)
    assert chosen in mail.text
