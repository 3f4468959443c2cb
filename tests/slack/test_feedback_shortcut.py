"""Feedback logged where it is heard: the "Log as feedback" message shortcut and the ticket card's
"Log feedback" button open the form with the ticket's customer filled in, and link the request to
the ticket; the Home tab shows the top cards and what the person logged."""

from __future__ import annotations

import json

from tests.fakes.slack_api import event_body, shortcut_message
from tests.slack import feedback_steps as fb
from tests.stack import CHANNEL, raw_mail

CAROL = "Carol Customer <carol@example.com>"


async def a_ticket(stack) -> tuple[str, str]:
    _, body = await stack.post_email(raw_mail(subject="Invoices", body="Can I get my invoices as a CSV file?"))
    post = await stack.ticket_post()
    return str(body["ticket_id"]), post.response["ts"]


async def test_the_shortcut_in_a_ticket_thread_fills_in_the_customer_and_links_the_ticket(stack):
    ticket, root_ts = await a_ticket(stack)
    said = shortcut_message("UANN", "note: she also asked for a &lt;monthly&gt; export, &amp; soon",
                            "1800000000.000100", thread_ts=root_ts)
    form = await fb.shortcut(stack, "UANN", said)

    fields = fb.inputs(form)
    assert fields["customers"]["initial_value"] == CAROL
    assert fields["quote"]["initial_value"] == "note: she also asked for a <monthly> export, & soon"
    assert "initial_value" not in fields["what"]
    assert json.loads(form["private_metadata"]) == {"ticket_id": int(ticket)}
    assert f"Heard in ticket #{ticket}" in fb.texts(form["blocks"])

    ack = await fb.submit(stack, "UANN", form, {"what": "Export invoices to CSV"})  # prefilled fields as they are
    assert ack["response_action"] == "update"
    done = await fb.shown(stack, form["id"])
    assert "New card #1 · Export invoices to CSV · new · 1 customer asked so far." in fb.texts(done["blocks"])
    shown = (await fb.answer(stack, "UANN", "show 1"))["text"]
    assert "Customers (1): Carol Customer &lt;carol@example.com&gt;" in shown  # escaped for Slack
    assert f"  from ticket #{ticket}" in shown.splitlines()
    assert "“note: she also asked for a &lt;monthly&gt; export, &amp; soon”" in shown
    assert stack.slack.violations == []


async def test_the_shortcut_on_the_ticket_message_itself_and_elsewhere(stack):
    ticket, root_ts = await a_ticket(stack)
    root = shortcut_message("UBOT", f"#{ticket} · Invoices — from {CAROL}", root_ts, bot_id="BBOT")
    on_ticket = await fb.shortcut(stack, "UANN", root)
    assert fb.inputs(on_ticket)["customers"]["initial_value"] == CAROL
    assert json.loads(on_ticket["private_metadata"]) == {"ticket_id": int(ticket)}

    # a message in some other thread, or in no thread: nothing to fill in, no ticket linked
    for message, channel in ((shortcut_message("UBOB", "Customers keep asking for dark mode", "1800000000.000200"),
                              "CRANDOM"),
                             (shortcut_message("UBOB", "Yes, dark mode!", "1800000000.000300",
                                               thread_ts="1800000000.000200"), CHANNEL)):
        form = await fb.shortcut(stack, "UBOB", message, channel=channel)
        assert "initial_value" not in fb.inputs(form)["customers"]
        assert fb.inputs(form)["quote"]["initial_value"] == message["text"]
        assert form["private_metadata"] == ""
    done = await fb.log_with_form(stack, "UBOB", {"what": "Dark mode"})
    assert "no customer named yet" in fb.texts(done["blocks"])
    assert "from ticket" not in (await fb.answer(stack, "UBOB", "show 1"))["text"]


async def test_the_ticket_cards_log_feedback_button_opens_the_form_for_its_customer(stack):
    ticket, root_ts = await a_ticket(stack)
    status, _ = await stack.click("feedback.from_ticket", ticket, "UANN", root_ts)
    assert status == 200
    (call,) = await stack.slack.wait_for("views.open")
    form = call.response["view"]
    assert fb.inputs(form)["customers"]["initial_value"] == CAROL
    assert json.loads(form["private_metadata"]) == {"ticket_id": int(ticket)}

    # the person adds a second customer by hand; both are on the card, the ticket's only once
    await fb.submit(stack, "UANN", form, {"what": "Export invoices to CSV",
                                          "customers": f"{CAROL}, dan@example.com", "importance": "blocker"})
    await fb.shown(stack, form["id"])
    shown = (await fb.answer(stack, "UANN", "show 1"))["text"]
    assert "Customers (2): Carol Customer &lt;carol@example.com&gt;, dan &lt;dan@example.com&gt;" in shown
    assert "(blocker)" in shown
    assert shown.count(f"from ticket #{ticket}") == 2


async def test_home_shows_top_cards_and_what_this_person_logged(stack):
    await fb.log_with_form(stack, "UANN", {"what": "Dark mode", "customers": "a@example.com, b@example.com"})
    await fb.log_with_form(stack, "UBOB", {"what": "Invoices as PDF", "customers": "c@example.com"})

    async def home(user: str) -> str:
        body = event_body({"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home"})
        status, _ = await stack.slack_post(body, "application/json")
        assert status == 200
        calls = await stack.slack.wait_for("views.publish", where=lambda c: c.args["user_id"] == user)
        return fb.texts(calls[-1].args["view"]["blocks"])

    ann = await home("UANN")
    top = ann[ann.index("Top suggestions"):ann.index("Feedback you logged")]
    assert top.index("#1 · Dark mode · new · 2 customers") < top.index("#2 · Invoices as PDF · new · 1 customer")
    assert ann[ann.index("Feedback you logged"):].splitlines()[1:3] == [
        "Feedback you logged:", "#1 · Dark mode · new · 2 customers"]
    carl = await home("UCARL")
    assert "You have not logged any feedback yet." in carl and "Open tickets" in carl
    assert stack.slack.violations == []


async def test_a_customer_with_a_comma_in_their_name_is_one_customer(stack):
    """"Doe, Jane" <jane@example.com> is prefilled from her ticket and logged as one customer, not a
    phantom "Doe" beside her; the same list typed by hand splits the same way."""
    _, body = await stack.post_email(raw_mail(sender='"Doe, Jane" <jane@example.com>', subject="Invoices"))
    root_ts = (await stack.ticket_post()).response["ts"]
    status, _ = await stack.click("feedback.from_ticket", str(body["ticket_id"]), "UANN", root_ts)
    assert status == 200
    (call,) = await stack.slack.wait_for("views.open")
    form = call.response["view"]
    assert fb.inputs(form)["customers"]["initial_value"] == '"Doe, Jane" <jane@example.com>'

    await fb.submit(stack, "UANN", form, {"what": "Export invoices to CSV"})  # the prefilled customer as it is
    assert "1 customer asked so far" in fb.texts((await fb.shown(stack, form["id"]))["blocks"])
    done = await fb.log_with_form(stack, "UBOB", {"what": "Dark mode",
                                                  "customers": '"Doe, Jane" <jane@example.com>, dan@example.com'})
    assert "2 customers asked so far" in fb.texts(done["blocks"])
    for card in ("1", "2"):
        assert "Doe, Jane &lt;jane@example.com&gt;" in (await fb.answer(stack, "UANN", f"show {card}"))["text"]
    assert "Customers (1): Doe, Jane &lt;jane@example.com&gt;\n" in (await fb.answer(stack, "UANN", "show 1"))["text"]
