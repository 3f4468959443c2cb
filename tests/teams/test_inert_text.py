"""Customer text is literal in every Teams card, not only the ticket's: list answers, feedback
answers, dialogs and delivery notes put it in TextRuns (a TextBlock reads markdown, so
"[verify](https://evil.example)" would be a link with a hidden address). Activities POSTed to
/api/messages, the fake Bot Connector, a real SMTP server."""

from __future__ import annotations

from tests.fakes.teams_connector import card_actions, text_blocks
from tests.stack import raw_mail
from tests.teams.stack import ANN, BOB, start_teams_stack, stop_teams_stack
from tests.teams.test_feedback import command, data_of, dialog_card, invoke, submit_data

LINK = "[verify](https://evil.example/login)"
EVIL = f"**URGENT** {LINK} _now_"


async def a_ticket(s) -> str:
    """Carol's email as a ticket card in the support channel; the id of its thread."""
    await s.choose_channel()
    await s.post_email(raw_mail())
    return (await s.ticket()).new_id


def assert_literal(where: str, card: dict, shown: str = LINK) -> None:
    """``shown`` is in a TextRun of ``card`` and in no TextBlock (the only place Teams reads markdown)."""
    markdown = [b["text"] for b in text_blocks(card) if b["type"] == "TextBlock"]
    assert not [t for t in markdown if "evil.example" in t], f"{where}: markdown with the link: {markdown}"
    runs = [run["text"] for b in text_blocks(card) if b["type"] == "RichTextBlock" for run in b["inlines"]]
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
    assert f"<at>{ANN[1]}</at>" in [b["text"] for b in text_blocks(listing.card) if b["type"] == "TextBlock"]
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
    root = await a_ticket(s)  # Ann's reply claims it: the first replier does
    s.smtp.reject("carol@example.com", 550, f"5.1.1 {EVIL}")
    said = await s.say(ANN, "Refund issued.", thread=root)
    (undo,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    (failed,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == undo.new_id)
    assert "Not delivered to carol@example.com" in failed.text
    assert_literal("the delivery note", failed.card)


async def test_a_teams_reply_in_html_reaches_the_customer_as_plain_text(teams_stack):
    s = teams_stack
    root = await a_ticket(s)
    # what Teams sends for a formatted reply that links a page and mentions a colleague
    said = s.acts.message(ANN, "", thread=root)
    said["text"] = ('<p>a &lt; b &amp; c, see <a href="https://acme.test/help">our help page</a> or '
                    '<a href="https://acme.test">https://acme.test</a>, ask <at>Bob Builder</at>.</p>'
                    '<p>Thanks,<br><b>Ann</b></p>')
    said["entities"] = [{"type": "mention", "text": "<at>Bob Builder</at>",
                         "mentioned": {"id": BOB[0], "name": BOB[1]}}]
    status, _ = await s.send(said)
    assert status in (200, 201)
    (mail,) = await s.smtp.wait_for(1)
    assert ("a < b & c, see our help page (https://acme.test/help) or https://acme.test, ask Bob Builder.\n"
            "Thanks,\nAnn") in mail.text
    assert "&lt;" not in mail.text and "<p>" not in mail.text and "<at>" not in mail.text


async def test_a_reply_written_on_one_platform_reads_plainly_on_the_other(sqlite_url):
    s = await start_teams_stack(sqlite_url, with_slack=True)
    try:
        s.slack.set_user("UBOB", "Bob Builder", "bob@acme.test")
        s.slack.set_user("U2", "Cat Slack", "cat@acme.test")
        await s.choose_channel()
        _, body = await s.post_email(raw_mail())
        slack_ts = (await s.ticket_post()).response["ts"]
        root = (await s.ticket()).new_id
        await s.click("ticket.claim", str(body["ticket_id"]), "UBOB", slack_ts)
        await s.say_in_thread("UBOB", "a &lt; b, see <https://acme.test/help|our help page>, ask <@U2>", slack_ts)
        (notice,) = await s.teams.wait_for("send", where=lambda c: c.thread == root and "answered" in c.text)
        assert notice.text.endswith("a < b, see our help page (https://acme.test/help), ask Cat Slack")
        assert notice.body["textFormat"] == "plain"
    finally:
        await stop_teams_stack(s)
