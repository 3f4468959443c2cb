"""Feedback on Slack, end to end: the /feedback modal and one-liners, the offer of similar cards,
merge, statuses, the CSV export as an upload, and shipping that tells every customer once. Signed
requests through the real Bolt app; Slack's Web API is the fake on 127.0.0.1, SMTP a real aiosmtpd."""

from __future__ import annotations

import csv
import io
import re

from tests.slack import feedback_steps as fb


def name_people(stack):
    stack.slack.set_user("UANN", "Ann", "ann@acme.test")
    stack.slack.set_user("UBOB", "Bob", "bob@acme.test")


async def test_the_form_logs_a_card_and_a_similar_one_is_offered_and_added(any_stack):
    stack = any_stack
    name_people(stack)
    form = await fb.open_form(stack, "UANN")
    assert form["callback_id"] == "feedback.form" and form["private_metadata"] == ""
    fields = fb.inputs(form)
    assert list(fields) == ["what", "customers", "department", "importance", "quote"]
    required = {b["block_id"] for b in form["blocks"] if b["type"] == "input" and not b["optional"]}
    assert required == {"what"}
    assert fields["what"]["multiline"] and fields["quote"]["multiline"]
    assert [o["value"] for o in fields["importance"]["options"]] == ["nice to have", "important", "blocker"]

    ack = await fb.submit(stack, "UANN", form, {"what": "Export invoices to CSV",
                                                "customers": "Carol <carol@example.com>", "department": "Billing",
                                                "importance": "important", "quote": "I need it for my accountant"})
    assert ack["response_action"] == "update" and "Logging" in fb.texts(ack["view"]["blocks"])
    done = await fb.shown(stack, form["id"])
    assert "New card #1 · Export invoices to CSV · new · 1 customer asked so far." in fb.texts(done["blocks"])
    assert fb.buttons(done["blocks"]) == []

    # Bob hears much the same from Dan: Pitchin shows card #1 first and files nothing yet
    offer = await fb.log_with_form(stack, "UBOB", {"what": "Can I download my invoices as a spreadsheet?",
                                                   "customers": "dan@example.com"})
    words = fb.texts(offer["blocks"])
    assert "heard before" in words and "#1 · Export invoices to CSV · new · 1 customer" in words
    assert "Nothing is logged until you choose." in words
    assert [(a, label) for a, _, label in fb.buttons(offer["blocks"])] == [
        ("feedback.add", "Add to #1"), ("feedback.new", "Create new")]
    top = (await fb.answer(stack, "UANN", "top"))["text"]
    assert "#1 · Export invoices to CSV · new · 1 customer" in top and "#2" not in top

    await fb.click_in_view(stack, "UBOB", offer, "Add to #1")
    added = await fb.shown(stack, offer["id"], count=2)
    assert "Added to card #1 · Export invoices to CSV · new · 2 customers asked so far." in fb.texts(added["blocks"])
    shown = (await fb.answer(stack, "UANN", "show 1"))["text"]
    assert "Customers (2): Carol &lt;carol@example.com&gt;, dan &lt;dan@example.com&gt;" in shown  # escaped for Slack
    assert "Ann logged for carol@example.com (important): “I need it for my accountant”" in shown
    assert stack.slack.violations == []


async def test_create_new_from_the_offer_then_merge_and_statuses(stack):
    first = await fb.answer(stack, "UANN", "Export invoices to CSV")
    assert first["response_type"] == "ephemeral" and first["text"].startswith("New card #1 · Export invoices to CSV")

    # a one-liner that sounds like #1: the ephemeral answer offers it, and "Create new" makes #2
    offer = await fb.answer(stack, "UBOB", "Export my contacts to CSV")
    assert "heard before" in offer["text"] and offer["response_type"] == "ephemeral"
    action_id, value = fb.button(offer["blocks"], "Create new")
    _, rid = await stack.click(action_id, value, "UBOB", "1800000000.000001")
    created = await stack.response(rid)
    assert created["text"].startswith("New card #2 · Export my contacts to CSV") and created["replace_original"]
    _, rid = await stack.click(action_id, value, "UBOB", "1800000000.000001")  # a second click files nothing
    assert "logged already" in (await stack.response(rid))["text"]

    assert "#2 · Export my contacts to CSV" in (await fb.answer(stack, "UANN", "top"))["text"]
    merged = await fb.answer(stack, "UANN", "merge 2 into 1")
    assert merged["text"].startswith("Merged #2 into #1 · Export invoices to CSV")
    assert "#2" not in (await fb.answer(stack, "UANN", "top"))["text"]
    # the merge's Undo button: #2 is its own card again; then merged for good
    action_id, value = fb.button(merged["blocks"], "Undo")
    _, rid = await stack.click(action_id, value, "UANN", "1800000000.000009")
    undone = await stack.response(rid)
    assert undone["text"].startswith("Undone: #2 · Export my contacts to CSV is its own card again") and \
        undone["replace_original"]
    assert "#2 · Export my contacts to CSV" in (await fb.answer(stack, "UANN", "top"))["text"]
    await fb.answer(stack, "UANN", "merge 2 into 1")
    assert "#2" not in (await fb.answer(stack, "UANN", "top"))["text"]

    assert (await fb.answer(stack, "UANN", "status 1 planned"))["text"] == \
        "#1 · Export invoices to CSV is now planned."
    assert "Status: planned" in (await fb.answer(stack, "UANN", "show 1"))["text"]
    assert (await fb.answer(stack, "UANN", "status #1 in_progress"))["text"].endswith("is now in progress.")
    assert "Status: in progress" in (await fb.answer(stack, "UANN", "show 1"))["text"]
    assert "Feedback commands:" in (await fb.answer(stack, "UANN", "help"))["text"]


async def test_export_arrives_as_a_csv_file_in_the_persons_dm(stack):
    name_people(stack)
    await fb.log_with_form(stack, "UANN", {"what": "Dark mode", "customers": "Carol <carol@example.com>, dan@example.com",
                                           "department": "Product"})
    await fb.log_with_form(stack, "UBOB", {"what": "Invoices as PDF", "customers": '"Doe, Erin" <erin@example.com>',
                                           "quote": "My accountant wants PDFs, \"not\" CSV,\nplease"})
    told = await fb.answer(stack, "UANN", "export")
    assert told["text"] == "All feedback, one row per request. pitchin-feedback.csv is in your DM with Pitchin."

    (opened,) = stack.slack.calls_to("conversations.open")
    assert opened.args["users"] == "UANN"
    (asked,) = stack.slack.calls_to("files.getUploadURLExternal")
    assert asked.args["filename"] == "pitchin-feedback.csv"
    (upload,) = stack.slack.calls_to("file_upload")
    assert upload.path == f"/upload/v1/{asked.response['file_id']}"
    (complete,) = stack.slack.calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == "DUANN" and complete.ok

    sent = stack.slack.files[asked.response["file_id"]]
    assert sent.completed and sent.channel_id == "DUANN" and sent.title == "pitchin-feedback.csv"
    assert int(asked.args["length"]) == len(sent.content)
    rows = list(csv.DictReader(io.StringIO(sent.text)))
    assert [(r["card"], r["title"], r["customer_email"], r["customer_name"], r["logged_by"]) for r in rows] == [
        ("1", "Dark mode", "carol@example.com", "Carol", "Ann"),
        ("1", "Dark mode", "dan@example.com", "dan", "Ann"),
        ("2", "Invoices as PDF", "erin@example.com", "Doe, Erin", "Bob"),
    ]
    assert rows[0]["department"] == "Product"
    assert rows[2]["quote"] == "My accountant wants PDFs, \"not\" CSV,\nplease"
    assert stack.slack.violations == []


async def test_exported_cells_that_a_spreadsheet_would_run_stay_text(stack):
    name_people(stack)
    await fb.log_with_form(stack, "UANN", {"what": '=HYPERLINK("https://evil.example","Verify")',
                                           "customers": "@SUM(A1:A9), -2+3@evil.example", "department": "+Ops",
                                           "quote": "-1 for the old way"})
    await fb.answer(stack, "UANN", "export")
    (upload,) = stack.slack.calls_to("files.getUploadURLExternal")
    rows = list(csv.DictReader(io.StringIO(stack.slack.files[upload.response["file_id"]].text)))
    assert [(r["title"], r["customer_email"], r["customer_name"], r["department"], r["quote"]) for r in rows] == [
        ("'=HYPERLINK(\"https://evil.example\",\"Verify\")", "", "'@SUM(A1:A9)", "'+Ops", "'-1 for the old way"),
        ("'=HYPERLINK(\"https://evil.example\",\"Verify\")", "'-2+3@evil.example", "'-2+3", "'+Ops",
         "'-1 for the old way"),
    ]
    assert [(r["card"], r["logged_by"]) for r in rows] == [("1", "Ann"), ("1", "Ann")]


async def test_export_that_slack_refuses_says_so(stack):
    stack.slack.fail("files.getUploadURLExternal", status=200, error="missing_scope")
    told = await fb.answer(stack, "UANN", "export")
    assert "could not upload pitchin-feedback.csv" in told["text"] and "missing_scope" in told["text"]
    assert stack.slack.calls_to("files.completeUploadExternal") == []


async def test_shipping_emails_every_customer_once_and_dms_who_logged_it(any_stack):
    stack = any_stack
    name_people(stack)
    await fb.log_with_form(stack, "UANN", {"what": "Dark mode", "customers": "Carol <carol@example.com>, dan@example.com"})
    offer = await fb.log_with_form(stack, "UBOB", {"what": "A dark theme for the dashboard",
                                                   "customers": "carol@example.com"})
    await fb.click_in_view(stack, "UBOB", offer, "Add to #1")
    assert "2 customers" in fb.texts((await fb.shown(stack, offer["id"], count=2))["blocks"])

    without = await fb.answer(stack, "UANN", "status 1 shipped")
    assert "No message yet" in without["text"] and fb.buttons(without["blocks"]) == []
    preview = await fb.answer(stack, "UANN", "status 1 shipped Switch it on under Settings → Theme.")
    assert "This will email 2 customers, tell 2 colleagues who logged it" in preview["text"]
    assert [label for _, _, label in fb.buttons(preview["blocks"])] == ["Confirm: shipped"]
    assert "Status: new" in (await fb.answer(stack, "UANN", "show 1"))["text"]  # nothing before the confirmation
    assert stack.smtp.messages == []

    action_id, value = fb.button(preview["blocks"], "Confirm: shipped")
    _, rid = await stack.click(action_id, value, "UANN", "1800000000.000002")
    confirmed = await stack.response(rid)
    assert confirmed["text"].startswith("#1 is shipped. Telling 2 customers and 2 colleague") and \
        confirmed["replace_original"]

    mails = await stack.smtp.wait_for(2)
    assert sorted(m["To"] for m in mails) == ["Carol <carol@example.com>", "dan <dan@example.com>"]
    carol = next(m for m in mails if "carol@example.com" in m["To"])
    assert carol["Subject"] == "You asked, we built it: Dark mode"
    assert carol.text.startswith("Hi Carol,") and "Good news: it has shipped." in carol.text
    assert "Switch it on under Settings → Theme." in carol.text
    dms = await stack.slack.wait_for("chat.postMessage", count=2, where=lambda c: c.args["channel"] in ("UANN", "UBOB"))
    assert sorted(c.args["channel"] for c in dms) == ["UANN", "UBOB"]
    assert all("#1 · Dark mode, which you logged, is shipped: “Switch it on under Settings → Theme.”"
               in c.args["text"] for c in dms)

    # confirming again (a double click, a retry) tells nobody anything more
    _, rid = await stack.click(action_id, value, "UANN", "1800000000.000002")
    again = (await stack.response(rid))["text"]
    assert "Telling" not in again and "told" in again  # "Already confirmed: … nobody is told twice."
    while await stack.pitchin.worker.run_once():
        pass
    assert len(stack.smtp.messages) == 2
    assert len([c for c in stack.slack.calls_to("chat.postMessage") if c.args["channel"] in ("UANN", "UBOB")]) == 2
    assert "Status: shipped" in (await fb.answer(stack, "UANN", "show 1"))["text"]


async def create_new(stack, user: str, text: str, click_ts: str) -> str:
    """`/feedback <text>` that Pitchin thinks it heard before; press "Create new". The answer's text."""
    offer = await fb.answer(stack, user, text)
    assert "heard before" in offer["text"], offer["text"]
    action_id, value = fb.button(offer["blocks"], "Create new")
    _, rid = await stack.click(action_id, value, user, click_ts)
    return (await stack.response(rid))["text"]


async def test_at_most_three_similar_cards_are_offered(stack):
    await fb.answer(stack, "UANN", "Export invoices to CSV")
    for n, thing in enumerate(("contacts", "orders", "payments"), start=2):
        created = await create_new(stack, "UANN", f"Export {thing} to CSV", f"18000000{n}0.000001")
        assert created.startswith(f"New card #{n} · Export {thing} to CSV")
    offer = await fb.answer(stack, "UBOB", "Export all my data to CSV")
    adds = [label for action_id, _, label in fb.buttons(offer["blocks"]) if action_id == "feedback.add"]
    assert len(adds) == 3 and len(set(adds)) == 3, adds
    assert [label for _, _, label in fb.buttons(offer["blocks"])][-1] == "Create new"
    assert "customers" in offer["text"] or "customer" in offer["text"]


async def test_search_top_by_department_merge_and_declined_over_slack(any_stack):
    stack = any_stack
    name_people(stack)
    await fb.log_with_form(stack, "UANN", {"what": "Dark mode for the dashboard", "customers": "carol@example.com",
                                           "department": "Product"})
    await fb.log_with_form(stack, "UBOB", {"what": "Invoices as PDF files",
                                           "customers": "Carol <carol@example.com>, dan@example.com",
                                           "department": "Customer Success"})
    top = (await fb.answer(stack, "UANN", "top customer success"))["text"]
    assert "#2 · Invoices as PDF files · new · 2 customers" in top and "Dark mode" not in top
    found = (await fb.answer(stack, "UANN", "search pdf invoice"))["text"]
    assert found.startswith("Cards like “pdf invoice”:") and "#2 · Invoices as PDF files" in found

    # Carol asks again and Ann files it as a new card by mistake; the merge counts Carol once
    created = await create_new(stack, "UANN", "PDF invoices for Carol's accountant", "1800000000.000003")
    assert created.startswith("New card #3")
    await fb.answer(stack, "UANN", "merge 3 into 2")
    shown = (await fb.answer(stack, "UANN", "show 2"))["text"]
    assert "Customers (2): Carol &lt;carol@example.com&gt;, dan &lt;dan@example.com&gt;" in shown  # escaped for Slack
    assert re.search(r"• \d{4}-\d{2}-\d{2} Bob logged for carol@example.com: Invoices as PDF files", shown), shown

    preview = await fb.answer(stack, "UANN", "status 2 declined Our accounting partner covers it.")
    assert "Mark #2 · Invoices as PDF files as declined? This will email 2 customers" in preview["text"]
    action_id, value = fb.button(preview["blocks"], "Confirm: declined")
    _, rid = await stack.click(action_id, value, "UANN", "1800000000.000004")
    assert (await stack.response(rid))["text"].startswith("#2 is declined. Telling 2 customers")
    mails = await stack.smtp.wait_for(2)
    assert sorted(m["To"] for m in mails) == ["Carol <carol@example.com>", "dan <dan@example.com>"]
    assert all(m["Subject"] == "About your suggestion: Invoices as PDF files" for m in mails)
    assert all("We have decided not to build it for now." in m.text and "Our accounting partner covers it."
               in m.text for m in mails)

    # declined a second time (after reopening it): nobody is emailed again
    await fb.answer(stack, "UANN", "status 2 planned")
    again = await fb.answer(stack, "UANN", "status 2 declined Still no.")
    assert "This will email no customers, tell no colleagues who logged it." in again["text"]
    action_id, value = fb.button(again["blocks"], "Confirm: declined")
    _, rid = await stack.click(action_id, value, "UANN", "1800000000.000005")
    assert "nobody new" in (await stack.response(rid))["text"]
    while await stack.pitchin.worker.run_once():
        pass
    assert len(stack.smtp.messages) == 2
    assert stack.slack.violations == []
