"""Use a saved reply in Teams, end to end through /api/messages: the ticket card's button opens a
dialog (task/fetch) with the three closest saved replies filled in, seen only by the person who
clicked; Send (task/submit) posts the reply in the ticket's thread and it reaches the customer by
SMTP after the undo window, once. A placeholder left unfilled keeps the dialog open, nothing posted."""

from __future__ import annotations

from sqlmodel import select

from storage.models import SavedReply, TicketMessage
from tests.fakes.teams_connector import card_actions, card_text
from tests.stack import raw_mail
from tests.teams.stack import ANN
from tests.teams.test_feedback import dialog_card, inputs, invoke, settled, submit_data

REPLIES = [
    ("Refund", "Hi {customer.first_name|there}, we have refunded the payment; it reaches you in 5 to 10 days."),
    ("Card delivery", "Hi {customer.first_name|there}, a new card arrives by post within 7 working days. "
                      "[[tracking number]] {me.first_name}"),
    ("Reset password", "To reset your password, click “Forgot password” on the sign-in page."),
    ("Opening hours", "Our support team answers from 9:00 to 17:00, Monday to Friday."),
]


def as_shown(dialog: dict, **typed) -> dict:
    """Every input of the dialog as Teams submits it: the values shown, with what the person typed."""
    return {**{key: field.get("value", "") for key, field in inputs(dialog).items()}, **typed}


async def test_the_button_opens_a_dialog_and_send_is_the_normal_reply(teams_stack):
    s = teams_stack
    with s.pitchin.db.transaction() as session:
        session.add_all([SavedReply(name=name, name_key=name.lower(), text=text) for name, text in REPLIES])
    await s.choose_channel()
    status, body = await s.post_email(raw_mail(subject="Where is my card?",
                                               body="I ordered a new card two weeks ago and it still hasn't come"))
    ticket = body["ticket_id"]
    posted = await s.ticket()
    root = posted.new_id
    button = next(d for d in card_actions(posted.card) if d["action"] == "reply.saved")
    assert button == {"msteams": {"type": "task/fetch"}, "action": "reply.saved", "ticket_id": ticket}

    before = len(s.teams.thread_of(root))
    dialog = dialog_card(await invoke(s, s.acts.task_fetch(ANN, button, root)))
    fields = inputs(dialog)
    assert [c["title"] for c in fields["choice"]["choices"]][0] == "1. Card delivery"
    assert len(fields["choice"]["choices"]) == 3 and fields["choice"]["value"] == "0"
    assert fields["text_0"]["value"] == "Hi Carol, a new card arrives by post within 7 working days. " \
                                        "[[tracking number]] Ann"
    assert len(s.teams.thread_of(root)) == before  # a dialog: nothing in the channel

    # the placeholder left in: the dialog again with the reason, nothing posted or stored
    again = dialog_card(await invoke(s, s.acts.task_submit(ANN, submit_data(dialog), as_shown(dialog), root)))
    assert "Not sent: fill in this placeholder first: [[tracking number]]" in card_text(again)
    assert inputs(again)["text_0"]["value"] == fields["text_0"]["value"]  # as typed, to mend
    assert len(s.teams.thread_of(root)) == before
    with s.pitchin.db.transaction() as session:
        assert session.exec(select(TicketMessage).where(TicketMessage.kind == "reply")).all() == []

    text = fields["text_0"]["value"].replace("[[tracking number]]", "Tracking: RR123.")
    done = dialog_card(await invoke(s, s.acts.task_submit(ANN, submit_data(again), as_shown(again, text_0=text),
                                                          root)))
    assert "Sending to carol@example.com by email in 1 s." in card_text(done)
    posts = s.teams.thread_of(root)[before:]
    assert posts[0].text == f"Ann Example (saved reply “Card delivery”): {text}"
    assert [d["action"] for d in card_actions(posts[1].card)] == ["reply.undo"]
    (mail,) = await s.smtp.wait_for(1)
    assert text in mail.text and "saved reply" not in mail.text
    await settled(s, "customer.reply")
    (sent,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == posts[1].new_id)
    assert "✅ Sent to carol@example.com by email." in sent.text
    assert len(s.smtp.messages) == 1
    with s.pitchin.db.transaction() as session:
        (reply,) = session.exec(select(TicketMessage).where(TicketMessage.kind == "reply")).all()
        assert reply.text == text and reply.delivery_state == "sent"

    # a Teams client that cannot open dialogs posts the click as a message: told what to do instead
    click = await s.submit(ANN, {"action": "reply.saved", "ticket_id": ticket}, root)
    (told,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == click["id"])
    assert "opens a dialog, which this Teams client cannot show" in told.text
