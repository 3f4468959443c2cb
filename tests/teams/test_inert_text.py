"""Customer text is literal in every Teams card, not only the ticket's: list answers, feedback
answers, dialogs and delivery notes put it in TextRuns (a TextBlock reads markdown, so
"[verify](https://evil.example)" would be a link with a hidden address). Activities POSTed to
/api/messages, the fake Bot Connector, a real SMTP server."""

from __future__ import annotations

from tests.fakes.teams_connector import card_actions
from tests.stack import raw_mail
from tests.teams.stack import ANN
from tests.teams.test_feedback import command, data_of, dialog_card, invoke, submit_data

LINK = "[verify](https://evil.example/login)"
EVIL = f"**URGENT** {LINK} _now_"


def blocks(node):
    if isinstance(node, dict):
        if node.get("type") in ("TextBlock", "RichTextBlock"):
            yield node
        for value in node.values():
            yield from blocks(value)
    elif isinstance(node, list):
        for value in node:
            yield from blocks(value)


def assert_literal(where: str, card: dict, shown: str = LINK) -> None:
    """``shown`` is in a TextRun of ``card`` and in no TextBlock (the only place Teams reads markdown)."""
    markdown = [b["text"] for b in blocks(card) if b["type"] == "TextBlock"]
    assert not [t for t in markdown if "evil.example" in t], f"{where}: markdown with the link: {markdown}"
    runs = [run["text"] for b in blocks(card) if b["type"] == "RichTextBlock" for run in b["inlines"]]
    assert any(shown in run for run in runs), f"{where}: {shown!r} not shown literally in {runs}"


async def test_list_feedback_answers_and_dialogs_show_customer_text_literally(teams_stack):
    s = teams_stack
    await s.choose_channel()
    status, body = await s.post_email(raw_mail(subject=EVIL, body=f"Please {EVIL}"))
    assert status == 202
    posted = await s.ticket()
    ticket, root = body["ticket_id"], posted.new_id

    listing = await command(s, ANN, "list")
    assert_literal("@Pitchin list", listing.card, f"#{ticket} · {EVIL}")
    assert f"<at>{ANN[1]}</at>" in [b["text"] for b in blocks(listing.card) if b["type"] == "TextBlock"]
    assert listing.card["msteams"]["entities"][0]["mentioned"]["id"] == ANN[0]  # Ann is still notified

    # the feedback form from the ticket card: the customer's words go into the card and the dialog's answer
    form = dialog_card(await invoke(s, s.acts.task_fetch(ANN, data_of(posted, "feedback.from_ticket"), root)))
    done = dialog_card(await invoke(s, s.acts.task_submit(ANN, submit_data(form), {
        "text": f"Export {EVIL}", "customers": "carol@example.com", "quote": f"I need {EVIL}"}, root)))
    assert_literal("the dialog's answer", done, f"New card #1 · Export {EVIL}")

    for typed in ("feedback show 1", "feedback top", "feedback search Export"):
        answer = await command(s, ANN, typed)
        assert_literal(f"@Pitchin {typed}", answer.card, f"#1 · Export {EVIL}")
    offer = await command(s, ANN, f"feedback Export {LINK}")  # the same again: offered card #1
    assert card_actions(offer.card) and "heard before" in offer.text
    assert_literal("the offer", offer.card)


async def test_a_delivery_note_quotes_the_mail_server_literally(teams_stack):
    s = teams_stack
    await s.choose_channel()
    await s.post_email(raw_mail())
    root = (await s.ticket()).new_id
    await s.submit(ANN, data_of(await s.ticket(), "ticket.claim"), root)
    s.smtp.reject("carol@example.com", 550, f"5.1.1 {EVIL}")
    said = await s.say(ANN, "Refund issued.", thread=root)
    (undo,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    (failed,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == undo.new_id)
    assert "Not delivered to carol@example.com" in failed.text
    assert_literal("the delivery note", failed.card)
