"""Saved replies in a Teams channel, end to end (activities and invokes POSTed to /api/messages, the
fake Bot Connector): `@Pitchin saved add` answers with a button that opens the form in a dialog,
`saved edit` opens it filled in, list and remove with Undo; "Save as reply" on an answer sent to a
customer and on a message that is not one; a reply with a [[placeholder]] left in it stays internal."""

from __future__ import annotations

from sqlmodel import select

from bot.teams.saved import MESSAGE_ACTION
from storage.models import OutboxJob, SavedReply, TicketMessage
from tests.fakes.teams_connector import card_actions, card_text
from tests.teams.stack import ANN, BOB
from tests.teams.test_feedback import command, dialog_card, inputs, invoke, submit_data, ticket_with_card

REFUND = "Hi {customer.first_name|there}, your refund is on its way. {me.first_name}"


def saved_rows(s) -> list[SavedReply]:
    with s.pitchin.db.transaction() as session:
        return session.exec(select(SavedReply).order_by(SavedReply.id)).all()


async def test_the_form_in_a_dialog_saves_edits_and_says_what_is_wrong(any_teams_stack):
    s = any_teams_stack
    await s.choose_channel()
    asked = await command(s, ANN, "saved add Refund --mine")
    (button,) = card_actions(asked.card)
    assert button["msteams"] == {"type": "task/fetch"} and button["action"] == "saved.open"
    form = dialog_card(await invoke(s, s.acts.task_fetch(ANN, button, asked.new_id)))
    fields = inputs(form)
    assert fields["name"]["value"] == "Refund" and fields["text"]["value"] == "" and fields["who"]["value"] == "mine"
    assert "{customer.first_name}  the customer's first name" in card_text(form)

    wrong = dialog_card(await invoke(s, s.acts.task_submit(ANN, submit_data(form), {
        "name": "Refund", "text": "Hi {customer.firstname}", "who": "team"}, asked.new_id)))
    assert "Pitchin does not know {customer.firstname}." in card_text(wrong)
    assert inputs(wrong)["text"]["value"] == "Hi {customer.firstname}" and saved_rows(s) == []
    done = dialog_card(await invoke(s, s.acts.task_submit(ANN, submit_data(wrong), {
        "name": "Refund", "text": REFUND, "who": "team"}, asked.new_id)))
    assert card_text(done).startswith("Saved “Refund” as a team reply.")

    listed = await command(s, BOB, "saved list REFUND")
    assert "• Refund · team · Hi {customer.first_name|there}, your refund is on its way." in listed.text
    taken = await command(s, BOB, "saved add refund Other words")
    assert "There is already a team reply called “Refund”: `@Pitchin saved edit Refund` changes it." in taken.text

    edit = await command(s, BOB, "saved edit Refund")
    form = dialog_card(await invoke(s, s.acts.task_fetch(BOB, card_actions(edit.card)[0], edit.new_id)))
    assert inputs(form)["text"]["value"] == REFUND and "who" not in inputs(form)
    done = dialog_card(await invoke(s, s.acts.task_submit(BOB, submit_data(form), {
        "name": "Refund", "text": "Refunded, {customer.first_name|there}."}, edit.new_id)))
    assert card_text(done) == "Changed “Refund”, team."
    (row,) = saved_rows(s)
    assert row.text == "Refunded, {customer.first_name|there}." and row.updated_by_id != row.created_by_id

    removed = await command(s, ANN, "saved remove Refund")
    assert "Removed the team reply “Refund”." in removed.text
    (undo,) = card_actions(removed.card)
    assert undo == {"action": "saved.restore", "saved_id": row.id}
    await s.submit(ANN, undo, removed.new_id, thread=removed.thread)
    (back,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == removed.new_id)
    assert "“Refund” is back, as it was." in back.text
    assert saved_rows(s)[0].removed_at is None


async def test_save_as_reply_on_an_answer_and_on_other_messages(teams_stack):
    s = teams_stack
    ticket, root = await ticket_with_card(s)
    answer = await s.say(ANN, "Hi Carol, the spreadsheet is attached.", thread=root)
    await s.teams.wait_for("reply", where=lambda c: c.activity_id == answer["id"])  # the Undo note

    opened = await invoke(s, s.acts.message_action(BOB, MESSAGE_ACTION, answer))
    assert opened["task"]["value"]["title"] == "Saved reply"
    form = dialog_card(opened)
    assert inputs(form)["name"]["value"] == "Invoices"
    assert inputs(form)["text"]["value"] == "Hi {customer.first_name|there}, the spreadsheet is attached."
    assert f"From the answer on ticket #{ticket}" in card_text(form)
    filled = {**submit_data(form), "name": "Invoices", "text": inputs(form)["text"]["value"], "who": "mine"}
    done = dialog_card(await invoke(s, s.acts.message_action(BOB, MESSAGE_ACTION, answer, data=filled)))
    assert card_text(done).startswith("Saved “Invoices” as your own reply.")
    with s.pitchin.db.transaction() as session:
        reply = session.exec(select(TicketMessage).where(TicketMessage.kind == "reply")).one()
    (row,) = saved_rows(s)
    assert row.source_message_id == reply.id and row.scope.startswith("person:")

    # the ticket's card, a note, a post elsewhere: why not
    note = await s.say(BOB, "note: she is a VIP", thread=root)
    chatter = await s.say(BOB, "lunch?")
    for message in (s.teams.messages[root], note, chatter):
        refused = dialog_card(await invoke(s, s.acts.message_action(BOB, MESSAGE_ACTION, message)))
        assert card_text(refused).startswith("Only a reply that went to a customer can be saved")

    # `saved add <name> from #<ticket>`: the ticket's last answer, typed
    typed = await command(s, ANN, f"saved add Spreadsheet from #{ticket}")
    assert "Saved “Spreadsheet” as a team reply." in typed.text


async def test_a_reply_with_a_placeholder_left_stays_internal(teams_stack):
    s = teams_stack
    _, root = await ticket_with_card(s)
    said = await s.say(ANN, "Your refund of [[amount]] is on its way.", thread=root)
    (told,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    assert "Not sent: fill in this placeholder first: [[amount]]." in told.text
    with s.pitchin.db.transaction() as session:
        assert [m.kind for m in session.exec(select(TicketMessage).order_by(TicketMessage.id))] == ["customer", "note"]
        assert session.exec(select(OutboxJob).where(OutboxJob.kind == "customer.reply")).all() == []
