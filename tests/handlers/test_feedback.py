"""The suggestion tracker in the core: log, duplicates offered, merge, statuses, and the loop closed
with every customer told exactly once."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from handlers import feedback, registry, tickets
from handlers.base import Actor, InboundMessage, utcnow
from handlers.feedback import Draft
from storage.models import SuggestionCard
from tests.handlers.conftest import drain

ANN = Actor("test", "U-ANN", "Ann")
BOB = Actor("test", "U-BOB", "Bob")




def cards(ctx):
    with ctx.db.transaction() as s:
        return {c.id: c for c in s.exec(select(SuggestionCard)).all()}


def add_to_first_offer(ctx, actor, draft):
    offer = feedback.log(ctx, actor, draft)
    button = next(b for b in offer.actions if b.action_id == "feedback.add")
    return registry.run_action(ctx, actor, button.action_id, button.value)


def test_one_line_makes_a_card_and_a_similar_one_is_offered(ctx):
    first = feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("Carol <carol@example.com>",)))
    assert first.text.startswith("New card #1 · Export invoices to CSV · new · 1 customer asked so far")
    offer = registry.run_feedback(ctx, BOB, "I want to export my invoices to excel")
    assert "heard before" in offer.text and "#1 · Export invoices to CSV · new · 1 customer" in offer.text
    assert [b.label for b in offer.actions] == ["Add to #1", "Create new"]
    assert len(cards(ctx)) == 1  # nothing filed until Bob chooses


def test_accepting_the_offer_adds_the_customer_and_the_card_learns(ctx):
    feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("carol@example.com",)))
    offer = feedback.log(ctx, BOB, Draft("Can I download my invoices as a spreadsheet?", customers=("dan@example.com",)))
    add = next(b for b in offer.actions if b.action_id == "feedback.add")
    assert "Only the person logging" in registry.run_action(ctx, ANN, "feedback.add", add.value).text
    done = registry.run_action(ctx, BOB, "feedback.add", add.value)
    assert done.text.startswith("Added to card #1") and "2 customers" in done.text
    assert "logged already" in registry.run_action(ctx, BOB, "feedback.add", add.value).text
    assert len(cards(ctx)) == 1


def test_create_new_instead(ctx):
    feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("carol@example.com",)))
    offer = feedback.log(ctx, BOB, Draft("Export my contacts to CSV", customers=("erin@example.com",)))
    new = next(b for b in offer.actions if b.action_id == "feedback.new")
    assert registry.run_action(ctx, BOB, "feedback.new", new.value).text.startswith("New card #2")


def test_merge_counts_each_customer_once(ctx):
    feedback.log(ctx, ANN, Draft("Dark mode", customers=("carol@example.com", "dan@example.com")))
    feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("Carol <CAROL@example.com>", "erin@example.com")))
    reply = registry.run_feedback(ctx, ANN, "merge 2 into 1")
    assert reply.ok and "3 customers, each counted once" in reply.text
    assert "#2 was merged into #1 already" in registry.run_feedback(ctx, ANN, "merge 2 into 1").text
    top = registry.run_feedback(ctx, ANN, "top").text
    assert "#1 · Dark mode · new · 3 customers" in top and "#2" not in top
    assert "#1 · Dark mode" in registry.run_feedback(ctx, ANN, "show 2").text  # a merged card leads to its target


@pytest.mark.parametrize("command, words", [
    ("merge 1 into 1", "cannot be merged into itself"),
    ("merge 1 into 9", "There is no card #9"),
    ("merge one into 2", "“one” is not a card number"),
    ("merge 1 2", "Say which card goes into which"),
    ("status 1 someday", "“someday” is not a status"),
    ("status 9 planned", "There is no card #9"),
    ("show 9", "There is no card #9"),
    ("show", "Give one card number"),
])
def test_bad_commands_answer_with_the_usage_line_and_change_nothing(ctx, command, words):
    feedback.log(ctx, ANN, Draft("Dark mode", customers=("carol@example.com",)))
    before = {i: (c.status, c.merged_into_id) for i, c in cards(ctx).items()}
    reply = registry.run_feedback(ctx, ANN, command)
    assert not reply.ok and words in reply.text and "Usage: /feedback" in reply.text
    assert {i: (c.status, c.merged_into_id) for i, c in cards(ctx).items()} == before


def test_empty_feedback_is_refused(ctx):
    reply = feedback.log(ctx, ANN, Draft("   "))
    assert not reply.ok and "Say what the customer wants" in reply.text and "Usage:" in reply.text
    assert cards(ctx) == {}


def test_status_words_top_by_department_search_and_export(ctx):
    feedback.log(ctx, ANN, Draft("Dark mode", customers=("a@example.com",), department="Product"))
    feedback.log(ctx, ANN, Draft("Invoice in PDF", customers=("b@example.com", "c@example.com"), department="Billing",
                                 quote="I need a PDF for my accountant", importance="important"))
    for word in ("done", "started", "rejected", "progress", "in"):  # only the five statuses, nothing changed
        assert registry.run_feedback(ctx, ANN, f"status 1 {word}").text == f"“{word}” is not a status.\nUsage: " \
            + feedback.USAGE["status"]
    assert cards(ctx)[1].status == "new"
    assert registry.run_feedback(ctx, ANN, "status 1 in progress").text.endswith("is now in progress.")
    assert registry.run_feedback(ctx, ANN, "status 1 planned").text.endswith("is now planned.")
    assert registry.run_feedback(ctx, ANN, "status 1 In-Progress").text.endswith("is now in progress.")
    assert registry.run_feedback(ctx, ANN, "status 1 in_progress").text.endswith("is now in progress.")
    assert "#2 · Invoice in PDF" in registry.run_feedback(ctx, ANN, "top billing").text
    assert "Dark mode" not in registry.run_feedback(ctx, ANN, "top billing").text
    assert "#2 · Invoice in PDF" in registry.run_feedback(ctx, ANN, "search invoice").text
    export = registry.run_feedback(ctx, ANN, "export")
    name, content = export.file
    rows = list(csv.DictReader(io.StringIO(content)))
    assert name.endswith(".csv") and len(rows) == 3
    assert {r["customer_email"] for r in rows if r["card"] == "2"} == {"b@example.com", "c@example.com"}
    assert rows[-1]["quote"] == "I need a PDF for my accountant" and rows[-1]["logged_by"] == "Ann"


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_export_keeps_a_cell_that_looks_like_a_formula_text(ctx, start):
    feedback.log(ctx, ANN, Draft(f"{start}HYPERLINK(\"https://evil.example\",\"Verify\")", customers=(f"{start}Eve",),
                                 department=f"{start}1+1", quote=f"{start}cmd|' /C calc'!A0"))
    (row,) = csv.DictReader(io.StringIO(registry.run_feedback(ctx, ANN, "export").file[1]))
    assert row["title"] == f"'{start}HYPERLINK(\"https://evil.example\",\"Verify\")"
    assert (row["customer_name"], row["department"]) == (f"'{start}Eve", f"'{start}1+1")
    assert row["quote"] == f"'{start}cmd|' /C calc'!A0"
    assert (row["card"], row["logged_by"], row["customer_email"]) == ("1", "Ann", "")  # the rest as it was


@pytest.mark.parametrize("start", ["\t", "\r"])
def test_export_keeps_a_cell_starting_with_a_tab_or_return_text(ctx, start):
    # what a person writes is stripped when logged; the department is kept as typed
    feedback.log(ctx, ANN, Draft("Dark mode", department=f"{start}=1+1"))
    (row,) = csv.DictReader(io.StringIO(registry.run_feedback(ctx, ANN, "export").file[1]))
    assert row["department"] == f"'{start}=1+1" and row["title"] == "Dark mode"


def test_feedback_from_a_ticket_attaches_its_customer(ctx):
    ticket = tickets.intake(ctx, InboundMessage(
        source="email", external_key="email:<t1@x>", sender_email="zoe@example.com", sender_name="Zoe",
        subject="CSV", text="Can I export?", received_at=utcnow(), email_message_id="<t1@x>")).ticket_id
    feedback.log(ctx, ANN, Draft("Export to CSV", ticket_id=ticket, quote="Can I export?"))
    shown = registry.run_feedback(ctx, ANN, "show 1").text
    assert "Zoe <zoe@example.com>" in shown and f"from ticket #{ticket}" in shown


async def test_shipping_tells_every_customer_once_and_the_colleagues(ctx, worker, customers, chat):
    feedback.log(ctx, ANN, Draft("Dark mode", customers=("Carol <carol@example.com>", "dan@example.com")))
    add_to_first_offer(ctx, BOB, Draft("A dark theme for the dashboard", customers=("carol@example.com",)))

    without = registry.run_feedback(ctx, ANN, "status 1 shipped")
    assert "No message yet" in without.text and without.actions == ()
    preview = registry.run_feedback(ctx, ANN, "status 1 shipped Switch it on under Settings → Theme.")
    assert "This will email 2 customers, tell 2 colleagues who logged it" in preview.text
    assert cards(ctx)[1].status == "new"  # nothing happens before the confirmation
    confirm = preview.actions[0]
    done = registry.run_action(ctx, ANN, confirm.action_id, confirm.value)
    assert done.ok and done.text == "#1 is shipped. Telling 2 customers and 2 colleagues."
    twice = registry.run_action(ctx, ANN, confirm.action_id, confirm.value)
    assert not twice.ok and "Already confirmed" in twice.text and "nobody is told twice" in twice.text
    await drain(worker)
    assert sorted(m.to_email for m in customers.sent) == ["carol@example.com", "dan@example.com"]
    carol = next(m for m in customers.sent if m.to_email == "carol@example.com")
    assert carol.subject == "You asked, we built it: Dark mode"
    assert carol.text.startswith("Hi Carol,") and "Good news: it has shipped." in carol.text
    assert "Switch it on under Settings → Theme." in carol.text
    assert sorted(u for u, _ in chat.direct_messages) == ["U-ANN", "U-BOB"]

    # shipped again (after a detour): nobody is told twice; a customer added since is told
    registry.run_feedback(ctx, ANN, "status 1 planned")
    add_to_first_offer(ctx, ANN, Draft("Dark mode please", customers=("erin@example.com",)))
    again = registry.run_feedback(ctx, ANN, "status 1 shipped Now on mobile too.")
    assert "This will email 1 customer, tell no colleagues" in again.text
    registry.run_action(ctx, ANN, again.actions[0].action_id, again.actions[0].value)
    await drain(worker)
    assert sorted(m.to_email for m in customers.sent) == ["carol@example.com", "dan@example.com", "erin@example.com"]


async def test_declined_has_its_own_wording(ctx, worker, customers):
    feedback.log(ctx, ANN, Draft("Fax support", customers=("old@example.com",)))
    preview = registry.run_feedback(ctx, ANN, "status 1 declined Few people still use fax.")
    registry.run_action(ctx, ANN, preview.actions[0].action_id, preview.actions[0].value)
    await drain(worker)
    (mail,) = customers.sent
    assert mail.subject == "About your suggestion: Fax support"
    assert "We have decided not to build it for now." in mail.text and "Few people still use fax." in mail.text


def test_after_a_merge_similar_feedback_is_offered_the_surviving_card(ctx):
    feedback.log(ctx, ANN, Draft("Dark mode for the dashboard", customers=("a@example.com",)))
    feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("b@example.com",)))
    registry.run_feedback(ctx, ANN, "merge 2 into 1")
    offer = feedback.log(ctx, BOB, Draft("I want to export my invoices to excel", customers=("c@example.com",)))
    offered = [b.value.split(":")[1] for b in offer.actions if b.action_id == "feedback.add"]
    assert offered == ["1"]  # the merged card's requests now speak for #1; #2 is never offered


async def test_a_web_form_customer_is_told_through_their_reply_url(ctx, worker, customers):
    ticket = tickets.intake(ctx, InboundMessage(
        source="web", external_key="web:form-9", sender_email="fay@example.com", sender_name="Fay",
        subject="Bulk edit", text="Can I edit many contacts at once?", received_at=utcnow(),
        reply_url="https://shop.example.com/pitchin-replies")).ticket_id
    feedback.log(ctx, ANN, Draft("Bulk edit contacts", ticket_id=ticket, customers=("gus@example.com",)))
    preview = registry.run_feedback(ctx, ANN, "status 1 shipped Select several rows and press Edit.")
    assert "This will email 1 customer, notify 1 customer through their web form" in preview.text
    registry.run_action(ctx, ANN, preview.actions[0].action_id, preview.actions[0].value)
    await drain(worker)
    by_url = {m.to_email: m.reply_url for m in customers.sent}
    assert by_url == {"gus@example.com": None, "fay@example.com": "https://shop.example.com/pitchin-replies"}
    fay = next(m for m in customers.sent if m.to_email == "fay@example.com")
    assert fay.external_id == "form-9" and "Select several rows and press Edit." in fay.text


async def test_a_customer_is_told_once_however_many_requests_and_web_form_tickets(ctx, worker, customers):
    def web_ticket(key: str) -> int:
        return tickets.intake(ctx, InboundMessage(
            source="web", external_key=f"web:{key}", sender_email="fay@example.com", sender_name="Fay",
            subject="Bulk edit", text="Can I edit many contacts at once?", received_at=utcnow(),
            reply_url=f"https://shop.example.com/replies/{key}")).ticket_id

    first, second = web_ticket("form-1"), web_ticket("form-2")
    feedback.log(ctx, ANN, Draft("Bulk edit contacts", ticket_id=first))
    add_to_first_offer(ctx, BOB, Draft("Edit many contacts at once", ticket_id=second))
    add_to_first_offer(ctx, BOB, Draft("Bulk edit for contacts", customers=("FAY@example.com", "Gus")))
    assert "Customers (2): Fay <fay@example.com>, Gus" in registry.run_feedback(ctx, ANN, "show 1").text
    preview = registry.run_feedback(ctx, ANN, "status 1 shipped Select several rows and press Edit.")
    assert ("This will email no customers, notify 1 customer through their web form, tell 2 colleagues who "
            "logged it. No email for Gus: tell them yourself.") in preview.text
    registry.run_action(ctx, ANN, preview.actions[0].action_id, preview.actions[0].value)
    await drain(worker)
    (told,) = customers.sent  # Fay once, at her latest web form; Gus has no address
    assert told.to_email == "fay@example.com" and told.reply_url == "https://shop.example.com/replies/form-2"

    registry.run_feedback(ctx, ANN, "status 1 planned")
    again = registry.run_feedback(ctx, ANN, "status 1 shipped Now for companies too.")
    assert "This will email no customers, tell no colleagues who logged it." in again.text


def test_the_same_customer_is_counted_the_same_on_the_card_in_top_and_when_told(ctx):
    """One meaning of "the same customer" (an email in any case, else a name in any case) for the
    card's count, the top list and the announcement, whatever the database's lower() folds."""
    whos = ("Émile", "ÉMILE", " émile ", "Carol <carol@example.com>", "CAROL@example.com")
    logged = feedback.log(ctx, ANN, Draft("Dark mode", customers=whos))
    assert "2 customers asked so far" in logged.text
    assert "#1 · Dark mode · new · 2 customers" in registry.run_feedback(ctx, ANN, "top").text
    preview = registry.run_feedback(ctx, ANN, "status 1 shipped It's live.")
    assert "This will email 1 customer, tell 1 colleague who logged it" in preview.text
    assert preview.text.count("Émile") + preview.text.count("ÉMILE") + preview.text.count("émile") == 1


def test_top_takes_a_department_of_several_words(ctx):
    feedback.log(ctx, ANN, Draft("Shared inbox views", customers=("a@example.com",), department="Customer Success"))
    assert "#1 · Shared inbox views" in registry.run_feedback(ctx, ANN, "top customer success").text
    empty = registry.run_feedback(ctx, ANN, "top notch invoices")
    assert empty.text.startswith("No open suggestions for notch invoices.") and "/feedback log top" in empty.text
    assert len(cards(ctx)) == 1  # nothing was logged


def test_a_merge_can_be_undone_by_who_made_it(ctx):
    feedback.log(ctx, ANN, Draft("Dark mode for the dashboard", customers=("a@example.com",)))
    feedback.log(ctx, ANN, Draft("Export invoices to CSV", customers=("b@example.com", "a@example.com")))
    merged = registry.run_feedback(ctx, ANN, "merge 2 into 1")  # a slip: meant another card
    (undo,) = merged.actions
    assert undo.label == "Undo" and merged.text == "Merged #2 into #1 · Dark mode for the dashboard: 2 customers, " \
        "each counted once."
    # Carol's request arrives on #1 after the merge, and stays there
    add_to_first_offer(ctx, BOB, Draft("A dark theme for the dashboard", customers=("carol@example.com",)))

    refused = registry.run_action(ctx, BOB, undo.action_id, undo.value)
    assert not refused.ok and refused.text == "Only the person who merged these cards can undo it."
    assert cards(ctx)[2].merged_into_id == 1

    done = registry.run_action(ctx, ANN, undo.action_id, undo.value)
    assert done.ok and done.text == ("Undone: #2 · Export invoices to CSV is its own card again (2 customers); "
                                     "#1 · Dark mode for the dashboard has 2 customers.")
    assert cards(ctx)[2].merged_into_id is None
    assert "Customers (2): b <b@example.com>, a <a@example.com>" in registry.run_feedback(ctx, ANN, "show 2").text
    assert "Customers (2): a <a@example.com>, carol <carol@example.com>" in \
        registry.run_feedback(ctx, ANN, "show 1").text
    again = registry.run_action(ctx, ANN, undo.action_id, undo.value)
    assert not again.ok and again.text == "This merge is undone already."
    # the index follows: invoice feedback is offered #2 again, not #1
    offer = feedback.log(ctx, BOB, Draft("Export my invoices as a spreadsheet"))
    assert [b.value.split(":")[1] for b in offer.actions if b.action_id == "feedback.add"][0] == "2"


def test_a_merge_is_not_undone_under_a_later_one(ctx):
    for idea in ("Dark mode", "Export invoices to CSV", "Single sign-on with Okta"):
        feedback.log(ctx, ANN, Draft(idea, customers=("a@example.com",)))
    first = registry.run_feedback(ctx, ANN, "merge 1 into 2")
    registry.run_feedback(ctx, ANN, "merge 2 into 3")
    (undo,) = first.actions
    refused = registry.run_action(ctx, ANN, undo.action_id, undo.value)
    assert not refused.ok and refused.text == "#2 was merged into #3 since: undo that merge first."
    assert (cards(ctx)[1].merged_into_id, cards(ctx)[2].merged_into_id) == (2, 3)
    assert registry.run_action(ctx, ANN, "feedback.unmerge", "999").text == "There is no such merge to undo."
