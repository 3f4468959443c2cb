"""Feedback in a Teams channel, end to end: activities and invokes POSTed to /api/messages of a running
Pitchin (botbuilder's CloudAdapter), the fake Bot Connector on 127.0.0.1, a real SMTP server (aiosmtpd)
and the real database. One line, the form in a dialog (from the ticket card and from the message
action), duplicates offered and accepted, merge, statuses, export, and the loop closed by email."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time

from sqlmodel import select

from bot.teams.feedback import MESSAGE_ACTION
from handlers import outbound
from storage.models import OutboxJob, SuggestionCard, SuggestionRequest
from tests.fakes.teams_connector import card_actions, card_text, personal_conversation
from tests.stack import raw_mail
from tests.teams.stack import ANN, BOB

DEADLINE = 15.0


# ---------------------------------------------------------------- helpers


async def invoke(s, activity: dict) -> dict | None:
    """POST an invoke; Teams reads the answer from the HTTP response, which must be a 200 with JSON."""
    status, body = await s.send(activity)
    assert status == 200, (status, body)
    return json.loads(body) if body else None


def dialog_card(response: dict) -> dict:
    """The Adaptive Card of a "continue" task response (the dialog Teams shows)."""
    task = response["task"]
    assert task["type"] == "continue", response
    assert task["value"]["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    return task["value"]["card"]["content"]


def inputs(card: dict) -> dict[str, dict]:
    return {e["id"]: e for e in card["body"] if e["type"].startswith("Input.")}


def submit_data(card: dict, title: str | None = None) -> dict:
    submits = [a for a in card.get("actions", []) if a["type"] == "Action.Submit"]
    return next(a["data"] for a in submits if title is None or a["title"] == title)


async def command(s, user, text: str, thread: str | None = None):
    """`@Pitchin <text>`; returns Pitchin's answer in the same thread."""
    said = await s.say(user, text, thread=thread, mention=True)
    (answer,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    return answer


def data_of(call, action: str) -> dict:
    return next(d for d in card_actions(call.card) if d["action"] == action)


def cards(s) -> dict[int, SuggestionCard]:
    with s.pitchin.db.transaction() as session:
        return {c.id: c for c in session.exec(select(SuggestionCard)).all()}


def requests(s) -> list[SuggestionRequest]:
    with s.pitchin.db.transaction() as session:
        return session.exec(select(SuggestionRequest).order_by(SuggestionRequest.id)).all()


async def settled(s, *kinds: str) -> list[OutboxJob]:
    """Every outbox job of these kinds done (polled until the deadline); returns them."""
    deadline = time.monotonic() + DEADLINE
    while True:
        with s.pitchin.db.transaction() as session:
            jobs = session.exec(select(OutboxJob).where(OutboxJob.kind.in_(kinds))).all()
        if jobs and all(j.state == "done" for j in jobs):
            return jobs
        assert time.monotonic() < deadline, f"jobs not done: {[(j.kind, j.state, j.last_error) for j in jobs]}"
        await asyncio.sleep(0.02)


async def ticket_with_card(s) -> tuple[int, str]:
    """Carol's email, posted as a ticket card in the support channel: (ticket id, the card's activity id)."""
    await s.choose_channel()
    status, body = await s.post_email(raw_mail(subject="Invoices", body="Can I get my invoices as a spreadsheet?"))
    assert status == 202
    posted = await s.ticket()
    return body["ticket_id"], posted.new_id


# ---------------------------------------------------------------- one line


async def test_one_line_logs_and_a_duplicate_is_offered_then_accepted_or_new(any_teams_stack):
    s = any_teams_stack
    first = await command(s, ANN, "feedback Export invoices to CSV")
    assert "New card #1 · Export invoices to CSV · new · no customer named yet" in first.text

    offer = await command(s, BOB, "feedback I want to export my invoices to excel")
    assert "heard before" in offer.text and "#1 · Export invoices to CSV · new" in offer.text
    add, new = card_actions(offer.card)
    assert add["action"] == "feedback.add" and new["action"] == "feedback.new"
    assert isinstance(add["feedback_id"], str) and add["feedback_id"].endswith(":1")  # "<draft>:<card>", exact
    assert [a["title"] for a in offer.card["actions"]] == ["Add to #1", "Create new"]
    assert len(cards(s)) == 1  # nothing filed before Bob chooses

    # only Bob can choose for Bob's feedback; his click redraws the offer in place
    stolen = await s.submit(ANN, add, offer.new_id, thread=offer.thread)
    (refused,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == stolen["id"])
    assert "Only the person logging this feedback can choose where it goes." in refused.text
    await s.submit(BOB, add, offer.new_id, thread=offer.thread)
    (added,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == offer.new_id)
    assert "Added to card #1 · Export invoices to CSV" in added.text and card_actions(added.card) == []
    assert [r.card_id for r in requests(s)] == [1, 1]

    again = await command(s, BOB, "feedback Export my contacts to CSV please")
    assert "heard before" in again.text
    await s.submit(BOB, data_of(again, "feedback.new"), again.new_id, thread=again.thread)
    (created,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == again.new_id)
    assert "New card #2 · Export my contacts to CSV please" in created.text
    assert sorted(cards(s)) == [1, 2]


async def test_feedback_typed_in_a_ticket_thread_is_about_that_ticket_and_not_sent_to_the_customer(teams_stack):
    s = teams_stack
    ticket, root = await ticket_with_card(s)
    answer = await command(s, ANN, "feedback Invoices as a spreadsheet", thread=root)
    assert answer.thread == root and "New card #1 · Invoices as a spreadsheet · new · 1 customer asked so far" \
        in answer.text
    (request,) = requests(s)
    assert request.ticket_id == ticket and request.customer_email == "carol@example.com"
    shown = await command(s, ANN, "feedback show 1", thread=root)
    assert "Carol Customer <carol@example.com>" in shown.text and f"from ticket #{ticket}" in shown.text
    with s.pitchin.db.transaction() as session:  # a command, not an answer: nothing queued for Carol
        assert session.exec(select(OutboxJob).where(OutboxJob.kind == "customer.reply")).all() == []


async def test_feedback_alone_offers_the_form_and_the_ticket_card_opens_it(teams_stack):
    s = teams_stack
    ticket, root = await ticket_with_card(s)
    anywhere = await command(s, ANN, "feedback")
    (button,) = card_actions(anywhere.card)
    assert button == {"msteams": {"type": "task/fetch"}, "action": "feedback.form"}
    in_thread = await command(s, ANN, "feedback", thread=root)
    assert card_actions(in_thread.card) == [{"msteams": {"type": "task/fetch"}, "action": "feedback.form",
                                             "ticket_id": ticket}]
    posted = s.teams.messages[root]["attachments"][0]["content"]
    log_feedback = next(d for d in card_actions(posted) if d["action"] == "feedback.from_ticket")
    assert log_feedback == {"msteams": {"type": "task/fetch"}, "action": "feedback.from_ticket", "ticket_id": ticket}

    # both open the same form, about the ticket: its customer filled in
    for data in (log_feedback, card_actions(in_thread.card)[0]):
        form = dialog_card(await invoke(s, s.acts.task_fetch(BOB, data, root)))
        fields = inputs(form)
        assert list(fields) == ["text", "customers", "department", "importance", "quote"]
        assert fields["text"]["isRequired"] is True and fields["text"]["value"] == ""
        assert fields["customers"]["value"] == "Carol Customer <carol@example.com>"
        assert [c["value"] for c in fields["importance"]["choices"]] == ["nice to have", "important", "blocker"]
        assert submit_data(form) == {"form": "feedback", "ticket_id": ticket}
    anywhere_form = dialog_card(await invoke(s, s.acts.task_fetch(BOB, button, anywhere.new_id)))
    assert inputs(anywhere_form)["customers"]["value"] == "" and submit_data(anywhere_form) == {"form": "feedback"}


# ---------------------------------------------------------------- the form in a dialog


async def test_the_form_from_a_ticket_card_logs_and_offers_duplicates_in_the_dialog(any_teams_stack):
    s = any_teams_stack
    ticket, root = await ticket_with_card(s)
    data = data_of(await s.ticket(), "feedback.from_ticket")
    form = dialog_card(await invoke(s, s.acts.task_fetch(ANN, data, root)))
    typed = {"customers": inputs(form)["customers"]["value"] + ", dan@example.com", "department": "Billing",
             "importance": "important", "quote": "I need a spreadsheet for my accountant"}

    # an empty "what": the same form again, as typed, with what is missing; nothing logged
    again = dialog_card(await invoke(s, s.acts.task_submit(ANN, submit_data(form), {**typed, "text": "  "}, root)))
    assert "Say what the customer wants." in card_text(again) and again["body"][0]["inlines"][0]["color"] == "Attention"
    assert inputs(again)["customers"]["value"] == typed["customers"]
    assert inputs(again)["department"]["value"] == "Billing"
    assert cards(s) == {}

    done = dialog_card(await invoke(s, s.acts.task_submit(ANN, submit_data(again), {**typed, "text": "Export invoices"},
                                                          root)))
    assert "New card #1 · Export invoices · new · 2 customers asked so far." in card_text(done)
    assert submit_data(done, "Done") == {"form": "close"}
    assert await invoke(s, s.acts.task_submit(ANN, {"form": "close"}, card_id=root)) is None  # closes the dialog
    by_email = {r.customer_email: r for r in requests(s)}
    assert set(by_email) == {"carol@example.com", "dan@example.com"}
    carol = by_email["carol@example.com"]
    assert (carol.ticket_id, carol.importance, carol.department, carol.customer_name) == \
        (ticket, "important", "Billing", "Carol Customer")
    assert carol.quote == "I need a spreadsheet for my accountant"

    # Bob fills the form for a similar request: the dialog offers card #1; he adds it there
    form = dialog_card(await invoke(s, s.acts.task_fetch(BOB, data, root)))
    offer = dialog_card(await invoke(s, s.acts.task_submit(
        BOB, submit_data(form), {"text": "Download my invoices as an excel sheet", "customers": "erin@example.com"},
        root)))
    assert "heard before" in card_text(offer) and "#1 · Export invoices" in card_text(offer)
    assert [a["title"] for a in offer["actions"]] == ["Add to #1", "Create new", "Cancel"]
    added = dialog_card(await invoke(s, s.acts.task_submit(BOB, submit_data(offer, "Add to #1"), card_id=root)))
    assert "Added to card #1 · Export invoices · new · 3 customers asked so far." in card_text(added)
    twice = dialog_card(await invoke(s, s.acts.task_submit(BOB, submit_data(offer, "Add to #1"), card_id=root)))
    assert "This feedback is logged already." in card_text(twice)
    assert len(cards(s)) == 1 and len(requests(s)) == 4  # Carol (from the ticket) twice: counted once


async def test_a_customer_with_a_comma_in_their_name_is_one_customer(teams_stack):
    """"Doe, Jane" <jane@example.com> is prefilled from her ticket and logged as one customer, not a
    phantom "Doe" beside her; the same list typed by hand splits the same way."""
    s = teams_stack
    await s.choose_channel()
    status, body = await s.post_email(raw_mail(sender='"Doe, Jane" <jane@example.com>', subject="Invoices"))
    assert status == 202
    root = (await s.ticket()).new_id
    data = data_of(await s.ticket(), "feedback.from_ticket")
    form = dialog_card(await invoke(s, s.acts.task_fetch(ANN, data, root)))
    assert inputs(form)["customers"]["value"] == '"Doe, Jane" <jane@example.com>'
    done = dialog_card(await invoke(s, s.acts.task_submit(
        ANN, submit_data(form), {"text": "Export invoices", "customers": inputs(form)["customers"]["value"]}, root)))
    assert "New card #1 · Export invoices · new · 1 customer asked so far." in card_text(done)

    form = dialog_card(await invoke(s, s.acts.task_fetch(BOB, {"action": "feedback.form"}, root)))
    done = dialog_card(await invoke(s, s.acts.task_submit(BOB, submit_data(form), {
        "text": "Dark mode", "customers": '"Doe, Jane" <jane@example.com>; dan@example.com'}, root)))
    assert "New card #2 · Dark mode · new · 2 customers asked so far." in card_text(done)
    assert [(r.card_id, r.customer_email, r.customer_name) for r in requests(s)] == [
        (1, "jane@example.com", "Doe, Jane"), (2, "jane@example.com", "Doe, Jane"), (2, "dan@example.com", "dan")]


async def test_the_message_action_in_a_ticket_thread_prefills_the_customer_and_links_the_ticket(teams_stack):
    s = teams_stack
    ticket, root = await ticket_with_card(s)
    note = await s.say(BOB, "note: she also asked for dark mode", thread=root)
    html = "<div><p>note: she also asked for <b>dark mode</b> &amp; a<br>darker logo</p></div>"
    opened = await invoke(s, s.acts.message_action(ANN, MESSAGE_ACTION, note, html=html))
    form = dialog_card(opened)
    assert opened["task"]["value"]["title"] == "Log customer feedback"
    fields = inputs(form)
    assert fields["customers"]["value"] == "Carol Customer <carol@example.com>"
    assert fields["quote"]["value"] == "note: she also asked for dark mode & a\ndarker logo"
    assert submit_data(form) == {"form": "feedback", "ticket_id": ticket}

    filled = {**submit_data(form), "text": "Dark mode", "customers": fields["customers"]["value"],
              "department": "", "importance": "nice to have", "quote": fields["quote"]["value"]}
    done = dialog_card(await invoke(s, s.acts.message_action(ANN, MESSAGE_ACTION, note, data=filled, html=html)))
    assert "New card #1 · Dark mode · new · 1 customer asked so far." in card_text(done)
    (request,) = requests(s)
    assert (request.ticket_id, request.customer_email) == (ticket, "carol@example.com")
    shown = await command(s, ANN, "feedback show 1")
    assert f"from ticket #{ticket}" in shown.text
    assert "“note: she also asked for dark mode & a\ndarker logo”" in shown.text

    # on the ticket's card itself (the root of the reply chain): the same ticket
    on_card = dialog_card(await invoke(s, s.acts.message_action(BOB, MESSAGE_ACTION, s.teams.messages[root])))
    assert inputs(on_card)["customers"]["value"] == "Carol Customer <carol@example.com>"
    assert submit_data(on_card) == {"form": "feedback", "ticket_id": ticket}

    # the same action on a post that is no ticket's: nothing prefilled, nothing linked
    chatter = await s.say(BOB, "Customers keep asking for an API")
    form = dialog_card(await invoke(s, s.acts.message_action(BOB, MESSAGE_ACTION, chatter)))
    assert inputs(form)["customers"]["value"] == "" and submit_data(form) == {"form": "feedback"}
    assert inputs(form)["quote"]["value"] == "Customers keep asking for an API"
    # and an empty "what" there gets the form back with the reason
    again = dialog_card(await invoke(s, s.acts.message_action(BOB, MESSAGE_ACTION, chatter,
                                                              data={**submit_data(form), "text": ""})))
    assert "Say what the customer wants." in card_text(again) and len(cards(s)) == 1


async def test_an_unknown_message_action_or_button_is_refused_in_words(teams_stack):
    s = teams_stack
    post = await s.say(ANN, "hello")
    refused = dialog_card(await invoke(s, s.acts.message_action(ANN, "someOtherCommand", post)))
    assert "does not know this command" in card_text(refused)
    odd = dialog_card(await invoke(s, s.acts.task_fetch(ANN, {"action": "ticket.explode"}, post["id"])))
    assert "does not know the button “ticket.explode”" in card_text(odd)


# ---------------------------------------------------------------- the tracker


async def test_merge_status_show_top_search(teams_stack):
    s = teams_stack
    await command(s, ANN, "feedback log Dark mode")  # `log`: the words after it are the feedback, whatever they are
    form_data = {"msteams": {"type": "task/fetch"}, "action": "feedback.form"}
    form = dialog_card(await invoke(s, s.acts.task_fetch(ANN, form_data, "1700000000999")))
    await invoke(s, s.acts.task_submit(ANN, submit_data(form), {
        "text": "Invoice in PDF", "customers": "b@example.com, c@example.com", "department": "Billing"},
        "1700000000999"))
    billing = (await command(s, ANN, "feedback top billing")).text
    assert "#2 · Invoice in PDF · new · 2 customers" in billing and "Dark mode" not in billing
    merged = await command(s, ANN, "feedback merge 2 into 1")
    assert "Merged #2 into #1 · Dark mode: 2 customers, each counted once." in merged.text
    # its Undo button puts #2 back; then merge for good
    await s.submit(ANN, data_of(merged, "feedback.unmerge"), merged.new_id, thread=merged.thread)
    (undone,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == merged.new_id)
    assert "Undone: #2 · Invoice in PDF is its own card again (2 customers)" in undone.text
    assert cards(s)[2].merged_into_id is None and card_actions(undone.card) == []
    merged = await command(s, ANN, "feedback merge 2 into 1")
    planned = await command(s, BOB, "feedback status 1 planned")
    assert "#1 · Dark mode is now planned." in planned.text
    assert cards(s)[1].status == "planned" and cards(s)[2].merged_into_id == 1
    assert "#1 · Dark mode · planned · 2 customers" in (await command(s, ANN, "feedback top")).text
    assert "No open suggestions for billing." in (await command(s, ANN, "feedback top billing")).text
    assert "#1 · Dark mode" in (await command(s, ANN, "feedback search dark")).text
    shown = await command(s, ANN, "feedback show 2")  # a merged card leads to its target
    assert "#1 · Dark mode" in shown.text and "Status: planned" in shown.text
    helped = await command(s, ANN, "feedback help")
    assert "@Pitchin feedback merge <card> into <card>" in helped.text and "/feedback" not in helped.text


async def test_words_that_mention_slacks_command_are_shown_as_typed(teams_stack):
    """Usage lines say @Pitchin feedback; what people wrote is never rewritten to say it."""
    s = teams_stack
    logged = await command(s, ANN, "feedback log Typing /feedback in Slack should open the form")
    assert "New card #1 · Typing /feedback in Slack should open the form" in logged.text
    shown = await command(s, ANN, "feedback show 1")
    assert "Typing /feedback in Slack should open the form" in shown.text
    assert "Typing /feedback" in (await command(s, ANN, "feedback search typing form slack")).text
    preview = await command(s, ANN, "feedback status 1 shipped Use /feedback alone: the form opens")
    assert "Message: “Use /feedback alone: the form opens”" in preview.text
    wrong = await command(s, ANN, "feedback show 9")
    assert "There is no card #9.\nUsage: @Pitchin feedback show <card>" in wrong.text


async def test_export_in_a_channel_is_text_and_in_a_personal_chat_a_file(teams_stack):
    s = teams_stack
    await command(s, ANN, "feedback Dark mode")
    form = dialog_card(await invoke(s, s.acts.task_fetch(ANN, {"action": "feedback.form"}, "1700000000999")))
    await invoke(s, s.acts.task_submit(ANN, submit_data(form), {
        "text": "Invoice in PDF", "customers": "Bea <b@example.com>", "quote": "PDF, please"}, "1700000000999"))

    said = await s.say(ANN, "feedback export", mention=True)
    (posted,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    assert posted.activity["textFormat"] == "plain" and "personal chat" in posted.text
    rows = list(csv.DictReader(io.StringIO(posted.text.split("\n\n", 1)[1])))
    assert [(r["card"], r["title"], r["customer_email"]) for r in rows] == \
        [("1", "Dark mode", ""), ("2", "Invoice in PDF", "b@example.com")]

    # in the 1:1 chat: Teams' file consent card; allowed, the file goes to the OneDrive upload URL
    personal = s.acts.personal(ANN, "feedback export")
    status, _ = await s.send(personal)
    assert status == 201
    (consent,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == personal["id"])
    assert consent.conversation_id == personal_conversation(ANN[0])
    (attachment,) = consent.activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
    assert attachment["name"] == "pitchin-feedback.csv" and attachment["content"]["sizeInBytes"] > 0
    context = attachment["content"]["acceptContext"]

    upload = s.teams.upload_info("pitchin-feedback.csv")
    answer = s.acts.file_consent(ANN, consent.new_id, "accept", context, upload)
    assert await invoke(s, answer) is None
    (put,) = await s.teams.wait_for("upload")
    assert put.body.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads the UTF-8
    uploaded = list(csv.DictReader(io.StringIO(put.body.decode("utf-8-sig"))))
    assert [r["quote"] for r in uploaded] == ["", "PDF, please"]
    assert attachment["content"]["sizeInBytes"] == len(put.body)
    (card,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == answer["id"])
    (info,) = card.activity["attachments"]
    assert info["contentType"] == "application/vnd.microsoft.teams.card.file.info"
    assert info["contentUrl"] == upload["contentUrl"] and info["content"]["uniqueId"] == upload["uniqueId"]

    no = s.acts.file_consent(ANN, consent.new_id, "decline", context)
    assert await invoke(s, no) is None
    (declined,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == no["id"])
    assert declined.text == "OK, no file." and len(s.teams.calls_to("upload")) == 1


# ---------------------------------------------------------------- closing the loop


async def test_shipped_tells_every_customer_once_by_email_and_the_colleagues_who_logged_it(any_teams_stack):
    s = any_teams_stack
    await s.choose_channel()  # the channel's conversation reference is how Pitchin reaches people proactively
    form = dialog_card(await invoke(s, s.acts.task_fetch(ANN, {"action": "feedback.form"}, "1700000000999")))
    await invoke(s, s.acts.task_submit(ANN, submit_data(form), {
        "text": "Export invoices to CSV", "customers": "Carol <carol@example.com>, dan@example.com"}, "1700000000999"))
    offer = dialog_card(await invoke(s, s.acts.task_submit(BOB, submit_data(form), {
        "text": "I want to download my invoices as a spreadsheet", "customers": "CAROL@example.com"}, "1700000000999")))
    await invoke(s, s.acts.task_submit(BOB, submit_data(offer, "Add to #1"), card_id="1700000000999"))

    # without a message: the preview says how to add one, and there is nothing to confirm yet
    bare = await command(s, ANN, "feedback status 1 shipped")
    assert "No message yet" in bare.text and "@Pitchin feedback status 7 shipped" in bare.text
    assert card_actions(bare.card) == []
    preview = await command(s, ANN, "feedback status 1 shipped It's under Invoices → Export.")
    assert "Mark #1 · Export invoices to CSV as shipped? This will email 2 customers, tell 2 colleagues" in preview.text
    assert cards(s)[1].status == "new"  # nothing happens before the confirmation
    confirm = data_of(preview, "feedback.announce")
    await s.submit(ANN, confirm, preview.new_id, thread=preview.thread)
    (done,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == preview.new_id)
    assert "#1 is shipped. Telling 2 customers and 2 colleagues." in done.text
    assert cards(s)[1].status == "shipped"

    await settled(s, "customer.suggestion", "chat.direct")
    mails = s.smtp.messages
    assert sorted(m.rcpt_tos[0] for m in mails) == ["carol@example.com", "dan@example.com"]  # once each
    for mail in mails:
        to = mail.rcpt_tos[0]
        name = "Carol" if to == "carol@example.com" else "dan"  # an email alone: its local part
        expected = outbound.suggestion_notice(s.pitchin.ctx, {"card_id": 1, "outcome": "shipped", "email": to,
                                                              "name": name, "message": "It's under Invoices → Export."})
        assert mail["Subject"] == expected.subject == "You asked, we built it: Export invoices to CSV"
        assert mail.text == expected.text
    carol = next(m for m in mails if m.rcpt_tos == ["carol@example.com"])
    assert carol.text.startswith("Hi Carol,\n\nYou asked us for this: Export invoices to CSV\n\n"
                                 "Good news: it has shipped.")
    assert "It's under Invoices → Export." in carol.text and "Thank you for telling us." in carol.text

    # the colleagues who logged it hear in their personal chats with Pitchin
    told = await s.teams.wait_for("send", count=2, where=lambda c: c.conversation_id.startswith("a:1on1-"))
    assert sorted(c.conversation_id for c in told) == [personal_conversation(ANN[0]), personal_conversation(BOB[0])]
    assert all("#1 · Export invoices to CSV, which you logged, is shipped: “It's under Invoices → Export.”" in c.text
               for c in told)

    # the same button again, or shipping again: nobody is told twice
    jobs = len(await settled(s, "customer.suggestion", "chat.direct"))
    await s.submit(ANN, confirm, preview.new_id, thread=preview.thread)
    twice = await s.teams.wait_for("reply", where=lambda c: "Already confirmed" in (c.text or ""))
    assert "nobody is told twice" in twice[-1].text
    await command(s, ANN, "feedback status 1 planned")
    second = await command(s, ANN, "feedback status 1 shipped Now for credit notes too.")
    assert "This will email no customers, tell no colleagues who logged it." in second.text
    await s.submit(ANN, data_of(second, "feedback.announce"), second.new_id, thread=second.thread)
    (shipped,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == second.new_id)
    assert "#1 is shipped. Telling nobody new: everyone on the card was told before." in shipped.text
    assert len(await settled(s, "customer.suggestion", "chat.direct")) == jobs  # nothing more was queued
    assert len(s.smtp.messages) == 2
    assert len([c for c in s.teams.calls_to("create") if c.conversation_id.startswith("a:1on1-")]) == 2
