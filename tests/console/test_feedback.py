"""`feedback …` in `pitchin console`, end to end: the real core and delivery worker, typed lines in,
the terminal's text out; a real SMTP server (aiosmtpd) where customers are told a suggestion shipped."""

from __future__ import annotations

import asyncio
import csv
import re
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import outbound
from storage.db import Database
from storage.models import OutboxJob, SuggestionCard, SuggestionNotice, SuggestionRequest
from tests.console.test_console import CAROL, DEADLINE, close_console, open_console
from tests.fakes.smtp import SmtpSink


@pytest.fixture
async def term(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where `feedback export` writes
    t = await open_console(tmp_path)
    yield t
    await close_console(t)


class Store:
    """The console's database, read from the test."""

    def __init__(self, tmp_path: Path):
        self.db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")

    def cards(self) -> dict[int, SuggestionCard]:
        with self.db.transaction(read_only=True) as session:
            return {c.id: c for (c,) in session.execute(select(SuggestionCard))}

    def requests(self) -> list[SuggestionRequest]:
        with self.db.transaction(read_only=True) as session:
            return [r for (r,) in session.execute(select(SuggestionRequest).order_by(SuggestionRequest.id))]

    def state(self) -> tuple:
        """The tracker as people see it: cards, requests, who has been told."""
        with self.db.transaction(read_only=True) as session:
            cards = sorted((c.id, c.title, c.status, c.merged_into_id)
                           for (c,) in session.execute(select(SuggestionCard)))
            told = len(session.execute(select(SuggestionNotice)).all())
        return cards, len(self.requests()), told

    async def settled(self, *kinds: str) -> int:
        """Every outbox job of these kinds done (polled until the deadline); how many there are."""
        deadline = time.monotonic() + DEADLINE
        while True:
            with self.db.transaction(read_only=True) as session:
                jobs = [j for (j,) in session.execute(select(OutboxJob).where(OutboxJob.kind.in_(kinds)))]
            if jobs and all(j.state == "done" for j in jobs):
                return len(jobs)
            assert time.monotonic() < deadline, [(j.kind, j.state, j.last_error) for j in jobs]
            await asyncio.sleep(0.02)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    yield s
    s.db.dispose()


async def test_one_line_and_the_offer_as_a_numbered_choice(term, store):
    out = await term.type("feedback Export invoices to CSV", "New card #1")
    assert "New card #1 · Export invoices to CSV · new · no customer named yet" in out

    out = await term.type("feedback I want to export my invoices to excel", "or Enter to decide later.")
    assert ("This sounds like feedback we have heard before:\n"
            "  1) #1 · Export invoices to CSV · new · no customer named yet\n"
            "  n) a new card\n"
            "Add it to which? Type 1, n for a new card, or Enter to decide later.") in out
    assert len(store.cards()) == 1  # nothing filed until the choice
    for wrong in ("0", "2", "yes"):  # not on the list: asked again
        await term.type(wrong, "Type 1, n for a new card, or Enter to decide later.")
    assert len(store.requests()) == 1
    await term.type("1", "Added to card #1 · Export invoices to CSV")

    await term.type("feedback Export my contacts to CSV", "or Enter to decide later.")
    await term.type("n", "New card #2 · Export my contacts to CSV")

    out = await term.type("feedback Export contacts to excel", "or Enter to decide later.")
    assert "  1) #2 · Export my contacts to CSV" in out and "  2) #1 · Export invoices to CSV" in out
    out = await term.type("", "Not logged yet. Later, type one of:")
    later = re.search(r"`(add \d+:2)`", term.text).group(1)
    await term.type(later, "Added to card #2 · Export my contacts to CSV")
    await term.type(later, "This feedback is logged already.")
    assert [r.card_id for r in store.requests()] == [1, 1, 2, 2]


async def test_the_form_one_question_at_a_time_and_from_a_ticket(term, store):
    await term.post_message(CAROL)
    await term.wait_for("└─ claim 1 · close 1 · use 1 · feedback from 1")  # the card's "Log feedback", as a command

    out = await term.type("feedback from 1", "What does the customer want? (required)")
    assert "From ticket #1: Carol <carol@example.com> is included." in out
    await term.type("", "Say what the customer wants (or `cancel`):")  # required: asked again
    await term.type("Refund by bank transfer", "Other customers who asked too (emails or names, comma separated):")
    await term.type("Dan <dan@example.com>", "Department:")
    await term.type("Billing", "Importance: 1) nice to have  2) important  3) blocker (Enter skips):")
    await term.type("urgent", "Type 1–3 or the word")
    await term.type("2", "Quote (the customer's own words):")
    await term.type("I'd rather not use my card again", "New card #1 · Refund by bank transfer · new · "
                                                          "2 customers asked so far.")
    by_email = {r.customer_email: r for r in store.requests()}
    assert set(by_email) == {"carol@example.com", "dan@example.com"}
    carol = by_email["carol@example.com"]
    assert (carol.ticket_id, carol.department, carol.importance, carol.quote) == \
        (1, "Billing", "important", "I'd rather not use my card again")
    assert by_email["dan@example.com"].customer_name == "Dan"

    shown = await term.type("feedback show 1", "from ticket #1")
    assert "Customers (2): Carol <carol@example.com>, Dan <dan@example.com>" in shown

    before = store.state()
    await term.type("feedback", "What does the customer want? (required)")
    await term.type("cancel", "Not logged.")
    await term.type("feedback from 9", "There is no ticket #9. `list` shows the open ones.\n"
                                       "Usage: feedback from <ticket number>")
    assert store.state() == before


async def test_feedback_reads_the_model_off_the_event_loop(term, model_threads):
    """The console shares its event loop with HTTP intake and the delivery worker: the embedding
    work of `feedback …` (the local model, here recorded) runs in a worker thread, not on the loop."""
    await term.type("feedback Export invoices to CSV", "New card #1")
    await term.type("feedback", "What does the customer want? (required)")
    await term.type("Dark mode", "Customers (emails or names, comma separated):")
    await term.type("", "Department:")
    await term.type("", "Importance:")
    await term.type("", "Quote (the customer's own words):")
    await term.type("", "New card #2 · Dark mode")
    assert model_threads and threading.main_thread().name not in model_threads


async def test_a_customer_with_a_comma_in_their_name_is_one_customer(term, store):
    """"Doe, Jane" <jane@example.com> typed in the list is one customer, not a phantom "Doe" beside her."""
    await term.type("feedback", "What does the customer want? (required)")
    await term.type("Refund by bank transfer", "Customers (emails or names, comma separated):")
    await term.type('"Doe, Jane" <jane@example.com>, Dan <dan@example.com>', "Department:")
    await term.type("", "Importance:")
    await term.type("", "Quote (the customer's own words):")
    await term.type("", "New card #1 · Refund by bank transfer · new · 2 customers asked so far.")
    assert [(r.customer_email, r.customer_name) for r in store.requests()] == [
        ("jane@example.com", "Doe, Jane"), ("dan@example.com", "Dan")]


@pytest.mark.parametrize("typed, expected", [
    ("feedback log", "Say what the customer wants.\nUsage: feedback <what the customer wants>"),
    ("feedback show 9", "There is no card #9.\nUsage: feedback show <card>"),
    ("feedback status 9 planned", "There is no card #9.\nUsage: feedback status <card>"),
    ("feedback merge 1 into 9", "There is no card #9.\nUsage: feedback merge <card> into <card>"),
    ("feedback merge 1 into 1", "A card cannot be merged into itself (#1).\nUsage: feedback merge <card> into <card>"),
    ("feedback merge one into 2", "“one” is not a card number.\nUsage: feedback merge <card> into <card>"),
    ("feedback status 1 someday", "“someday” is not a status.\n"
                                  "Usage: feedback status <card> new|planned|in_progress|shipped|declined"),
    ("feedback status 1 shipped", "No message yet: add one after the status, e.g. `feedback status 7 shipped"),
    ("feedback export --pth x.csv", "Usage: feedback export [--path FILE]"),
    ("feedback from", "Give the ticket number.\nUsage: feedback from <ticket number>"),
    ("add 999:1", "That feedback form has expired; log it again."),
    ("add x", "That button is broken; log the feedback again."),
    ("new", "Usage: new <value>"),
    ("announce 999", "That feedback form has expired"),
])
async def test_bad_input_gets_the_usage_line_and_changes_nothing(term, store, typed, expected):
    await term.type("feedback Dark mode", "New card #1")
    await term.type("feedback Fax support", "New card #2")
    before = store.state()
    out = await term.type(typed, expected)
    assert "/feedback" not in out and "Confirm?" not in out
    assert store.state() == before and list(Path.cwd().glob("*.csv")) == []


async def test_merge_status_top_search_and_export_to_a_file(term, store, tmp_path):
    await term.type("feedback Dark mode", "New card #1")
    await term.type("feedback", "What does the customer want? (required)")
    await term.type("Invoice in PDF", "Customers")
    await term.type("b@example.com, Cleo <c@example.com>", "Department:")
    await term.type("Billing", "Importance:")
    await term.type("", "Quote")
    await term.type("PDF, for my accountant", "New card #2 · Invoice in PDF · new · 2 customers asked so far.")

    await term.type("feedback status 2 planned", "#2 · Invoice in PDF is now planned.")
    await term.type("feedback top billing", "#2 · Invoice in PDF · planned · 2 customers")
    await term.type("feedback search invoice", "#2 · Invoice in PDF")
    out = await term.type("feedback merge 1 into 2", "Merged #1 into #2 · Invoice in PDF: 2 customers, each counted once.")
    undo = re.search(r"→ (unmerge \d+)", out).group(1)  # what the Undo button would do
    await term.type(undo, "Undone: #1 · Dark mode is its own card again (no customer named yet); "
                          "#2 · Invoice in PDF has 2 customers.")
    assert store.cards()[1].merged_into_id is None
    await term.type(undo, "This merge is undone already.")
    await term.type("feedback merge 1 into 2", "Merged #1 into #2")
    assert store.cards()[1].merged_into_id == 2 and store.cards()[2].status == "planned"

    out = await term.type("feedback export", " written to ")
    written = Path(re.search(r"3 rows written to (\S+)", out).group(1))
    assert written == tmp_path / "pitchin-feedback.csv"
    rows = list(csv.DictReader(written.open(encoding="utf-8", newline="")))
    assert [(r["card"], r["customer_email"], r["quote"]) for r in rows] == \
        [("2", "", ""), ("2", "b@example.com", "PDF, for my accountant"),
         ("2", "c@example.com", "PDF, for my accountant")]
    out = await term.type("feedback export", " written to ")  # never over an earlier export
    assert str(tmp_path / "pitchin-feedback-2.csv") in out
    chosen = tmp_path / "out" / "all.csv"
    chosen.parent.mkdir()
    out = await term.type(f"feedback export --path {chosen}", " written to ")
    assert str(chosen) in out and chosen.read_text(encoding="utf-8") == written.read_text(encoding="utf-8")

    out = await term.type("help", "quit")
    assert "feedback from <ticket number>" in out and "feedback merge <card> into <card>" in out
    assert "/feedback" not in out


async def test_words_that_mention_slacks_command_are_shown_as_typed(term, store):
    out = await term.type("feedback log Typing /feedback in Slack should open the form", "New card #1")
    assert "New card #1 · Typing /feedback in Slack should open the form" in out
    out = await term.type("feedback show 1", "Status:")
    assert "Typing /feedback in Slack should open the form" in out
    out = await term.type("feedback status 1 shipped Use /feedback alone: the form opens", "Confirm? (y/n)")
    assert "Message: “Use /feedback alone: the form opens”" in out
    await term.type("n", "Nothing changed, nobody told.")


async def test_shipped_asks_first_then_emails_every_customer_once(tmp_path, store):
    smtp = SmtpSink()
    smtp.start()
    term = await open_console(tmp_path, smtp_url=smtp.url)
    try:
        await term.type("feedback", "What does the customer want? (required)")
        await term.type("Dark mode", "Customers")
        await term.type("Carol <carol@example.com>, dan@example.com", "Department:")
        await term.type("", "Importance:")
        await term.type("", "Quote")
        await term.type("", "New card #1 · Dark mode · new · 2 customers asked so far.")
        await term.type("feedback", "What does the customer want? (required)")
        await term.type("A dark theme for the dashboard", "Customers")
        await term.type("CAROL@example.com, erin@example.com", "Department:")
        await term.type("", "Importance:")
        await term.type("", "Quote")
        await term.type("", "Add it to which?")
        await term.type("1", "Added to card #1 · Dark mode · new · 3 customers asked so far.")

        out = await term.type("feedback status 1 shipped Switch it on under Settings → Theme.", "Confirm? (y/n)")
        assert "Mark #1 · Dark mode as shipped? This will email 3 customers, tell 1 colleague who logged it." in out
        assert "Message: “Switch it on under Settings → Theme.”" in out
        await term.type("maybe", "Confirm? Type y or n.")
        out = await term.type("n", "Nothing changed, nobody told. To confirm later: `announce")
        assert store.cards()[1].status == "new" and smtp.messages == []

        await term.type("feedback status 1 shipped Switch it on under Settings → Theme.", "Confirm? (y/n)")
        await term.type("y", "#1 is shipped. Telling 3 customers and 1 colleague.")
        await term.wait_for("✉️  to ann: #1 · Dark mode, which you logged, is shipped: "
                            "“Switch it on under Settings → Theme.”")
        jobs = await store.settled("customer.suggestion", "chat.direct")
        mails = await smtp.wait_for(3)
        assert sorted(m.rcpt_tos[0] for m in mails) == ["carol@example.com", "dan@example.com", "erin@example.com"]
        ctx = term_ctx(store)
        for mail in mails:
            to = mail.rcpt_tos[0]
            name = "Carol" if to == "carol@example.com" else to.split("@")[0]  # an email alone: its local part
            expected = outbound.suggestion_notice(ctx, {"card_id": 1, "outcome": "shipped", "email": to, "name": name,
                                                        "message": "Switch it on under Settings → Theme."})
            assert (mail["Subject"], mail.text) == (expected.subject, expected.text)
        assert "Good news: it has shipped.\n\nSwitch it on under Settings → Theme." in mails[0].text

        # the preview declined earlier, the one confirmed, and shipping again: nobody hears twice
        declined = int(re.search(r"`announce (\d+)`", term.text).group(1))
        await term.type(f"announce {declined}", "#1 is shipped. Telling nobody new: everyone on the card was told before.")
        await term.type(f"announce {declined + 1}", "Already confirmed")
        await term.type("feedback status 1 planned", "is now planned.")
        await term.type("feedback status 1 shipped Also on mobile.", "This will email no customers, "
                                                                     "tell no colleagues who logged it.")
        await term.type("y", "#1 is shipped. Telling nobody new: everyone on the card was told before.")
        assert await store.settled("customer.suggestion", "chat.direct") == jobs
        assert len(smtp.messages) == 3
    finally:
        await close_console(term)
        smtp.stop()


def term_ctx(store: Store):
    from handlers.context import Context

    return Context(db=store.db, mail_domain="pitchin.invalid")
