"""Saved replies on Slack, through signed requests to the real app: `/pitchin saved add` opens the
modal (views.open) and its submission saves; `saved edit` opens it filled in; `saved remove` has
an Undo; "Save as reply" on an answer sent to a customer, and on a message that is not one; a reply
with [[placeholders]] left in it is kept internal."""

from __future__ import annotations

import json
import time

from sqlmodel import select

from storage.models import OutboxJob, SavedReply, TicketMessage
from tests.fakes.slack_api import message_shortcut_body, new_trigger_id, shortcut_message, slash_command_body
from tests.slack import feedback_steps as steps
from tests.stack import CHANNEL, raw_mail

FORM = "application/x-www-form-urlencoded"
REFUND = "Hi {customer.first_name|there}, your refund is on its way. {me.first_name}"


async def typed(stack, user: str, text: str) -> tuple[str, str]:
    """`/pitchin <text>`; (the trigger id, the response id)."""
    trigger, response_id = new_trigger_id(), f"saved-{time.monotonic_ns()}"
    body = slash_command_body("/pitchin", text, user, CHANNEL, stack.slack.url_for_response(response_id),
                              trigger_id=trigger)
    status, _ = await stack.slack_post(body, FORM)
    assert status == 200
    return trigger, response_id


async def said(stack, user: str, text: str) -> dict:
    return await stack.response((await typed(stack, user, text))[1])


async def shortcut(stack, user: str, message: dict) -> dict:
    """"Save as reply" from the "…" menu of ``message``: the modal it opened."""
    trigger = new_trigger_id()
    body = message_shortcut_body("save_reply", user, CHANNEL, message,
                                 stack.slack.url_for_response(f"sc-{time.monotonic_ns()}"), trigger_id=trigger)
    status, _ = await stack.slack_post(body, FORM)
    assert status == 200
    return await steps.opened(stack, trigger)


async def test_the_command_opens_the_modal_and_its_submission_saves(stack):
    trigger, _ = await typed(stack, "UANN", "saved add Refund --mine")
    form = await steps.opened(stack, trigger)
    fields = steps.inputs(form)
    assert fields["saved_name"]["initial_value"] == "Refund" and "initial_value" not in fields["saved_text"]
    assert fields["saved_who"]["initial_option"]["value"] == "mine"
    assert "{customer.first_name}  the customer's first name" in steps.texts(form["blocks"])

    # an unknown variable: told under the text, nothing saved
    ack = await steps.submit(stack, "UANN", form, {"saved_text": "Hi {customer.firstname}", "saved_who": "team"})
    assert ack["response_action"] == "errors"
    assert ack["errors"]["saved_text"].startswith("Pitchin does not know {customer.firstname}.")
    ack = await steps.submit(stack, "UANN", form, {"saved_text": REFUND, "saved_who": "team"})
    assert ack["response_action"] == "update"
    assert steps.texts(ack["view"]["blocks"]).startswith("Saved “Refund” as a team reply.")

    # the same name again, from Bob's modal: under the name, with what to do instead
    trigger, _ = await typed(stack, "UBOB", "saved add refund")
    ack = await steps.submit(stack, "UBOB", await steps.opened(stack, trigger), {"saved_text": "Other words"})
    assert ack["errors"] == {"saved_name": "There is already a team reply called “Refund”: "
                                           "`/pitchin saved edit Refund` changes it."}

    listed = await said(stack, "UBOB", "saved list refund")
    assert "• Refund · team · Hi {customer.first_name|there}, your refund is on its way. {me.first_name}" in listed["text"]
    assert listed["response_type"] == "ephemeral"
    # a reply typed on the line is saved as typed, without a modal
    assert (await said(stack, "UBOB", "saved add Thanks Thanks &amp; bye!"))["text"].startswith("Saved “Thanks”")
    assert "• Thanks · team · Thanks &amp; bye!" in (await said(stack, "UBOB", "saved list bye"))["text"]
    assert stack.slack.calls_to("views.open") and all(c.ok for c in stack.slack.calls_to("views.open"))
    assert stack.slack.violations == []


async def test_edit_opens_the_modal_filled_in_and_remove_has_an_undo(stack):
    await said(stack, "UANN", f"saved add Refund {REFUND}")
    trigger, _ = await typed(stack, "UBOB", "saved edit refund")
    form = await steps.opened(stack, trigger)
    assert steps.inputs(form)["saved_text"]["initial_value"] == REFUND
    assert "saved_who" not in steps.inputs(form)  # a reply stays the team's or its owner's
    assert json.loads(form["private_metadata"])["reply_id"] == 1
    ack = await steps.submit(stack, "UBOB", form, {"saved_name": "Refund sent", "saved_text": "Refunded."})
    assert steps.texts(ack["view"]["blocks"]) == "Changed “Refund sent” (renamed from “Refund”), team."
    unknown = await said(stack, "UBOB", "saved edit Nope")
    assert unknown["text"].startswith("There is no saved reply called “Nope”")
    assert len(stack.slack.calls_to("views.open")) == 1

    removed = await said(stack, "UANN", 'saved remove "Refund sent"')
    assert removed["text"] == "Removed the team reply “Refund sent”."
    action_id, value = steps.button(removed["blocks"], "Undo")
    status, response_id = await stack.click(action_id, value, "UANN", "1800000000.000900")
    assert status == 200
    back = await stack.response(response_id)
    assert back["text"] == "“Refund sent” is back, as it was." and back["replace_original"] is True
    assert "Refund sent" in (await said(stack, "UBOB", "saved list"))["text"]


async def test_save_as_reply_on_an_answer_to_the_customer_and_on_other_messages(stack):
    await stack.post_email(raw_mail(subject="Re: Refund please", body="Can I have my money back?",
                                    sender="Carol Customer <carol@example.com>"))
    root = (await stack.ticket_post()).response["ts"]
    status, ts = await stack.say_in_thread("UANN", "Hi Carol, done: the refund is on its way.", root)
    assert status == 200
    await stack.slack.wait_for("chat.postEphemeral", where=lambda c: c.args["user"] == "UANN")

    form = await shortcut(stack, "UBOB", shortcut_message("UANN", "Hi Carol, done: the refund is on its way.", ts,
                                                          thread_ts=root))
    fields = steps.inputs(form)
    assert fields["saved_name"]["initial_value"] == "Refund please"
    assert fields["saved_text"]["initial_value"] == "Hi {customer.first_name|there}, done: the refund is on its way."
    assert "From the answer on ticket #1" in steps.texts(form["blocks"])
    ack = await steps.submit(stack, "UBOB", form, {})
    assert steps.texts(ack["view"]["blocks"]).startswith("Saved “Refund please” as a team reply.")
    with stack.pitchin.db.transaction() as session:
        row = session.exec(select(SavedReply)).one()
        answer = session.exec(select(TicketMessage).where(TicketMessage.kind == "reply")).one()
    assert row.source_message_id == answer.id and row.created_by_id != answer.author_person_id

    # the ticket's own message, a note, a message elsewhere: why not, in the modal
    status, note_ts = await stack.say_in_thread("UANN", "note: she is a VIP", root)
    for message in (shortcut_message("UBOT", "#1 · Refund please", root, bot_id="BBOT"),
                    shortcut_message("UANN", "note: she is a VIP", note_ts, thread_ts=root),
                    shortcut_message("UBOB", "lunch?", "1800000000.000777")):
        refusal = await shortcut(stack, "UBOB", message)
        assert steps.texts(refusal["blocks"]).startswith("Only a reply that went to a customer can be saved")
        assert "submit" not in refusal
    assert stack.slack.violations == []


async def test_a_thread_reply_with_a_placeholder_left_is_kept_internal(stack):
    await stack.post_email(raw_mail())
    root = (await stack.ticket_post()).response["ts"]
    status, _ = await stack.say_in_thread("UANN", "We refunded [[amount]] to your card.", root)
    assert status == 200
    (told,) = await stack.slack.wait_for("chat.postEphemeral", where=lambda c: c.args["user"] == "UANN")
    assert told.args["text"].startswith("Not sent: fill in this placeholder first: [[amount]].")
    assert "internal note" in told.args["text"]
    with stack.pitchin.db.transaction() as session:
        kinds = [m.kind for m in session.exec(select(TicketMessage).order_by(TicketMessage.id))]
        assert kinds == ["customer", "note"]
        assert session.exec(select(OutboxJob).where(OutboxJob.kind == "customer.reply")).all() == []
