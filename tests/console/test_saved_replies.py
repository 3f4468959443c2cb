"""`saved …` in `pitchin console`, end to end: typed lines in, the terminal's text out. `saved add`
asks for the text, `saved edit` shows the text and asks for the new one, `saved remove` offers the
Undo as a command to type, `saved add <name> from #1` keeps the ticket's answer; a reply with a
[[placeholder]] left in it is not sent."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxJob, SavedReply
from tests.console.test_console import CAROL, close_console, open_console

import pytest


@pytest.fixture
async def term(tmp_path):
    t = await open_console(tmp_path)
    yield t
    await close_console(t)


def rows(tmp_path) -> list[SavedReply]:
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    try:
        with db.transaction(read_only=True) as session:
            return [r for (r,) in session.execute(select(SavedReply).order_by(SavedReply.id))]
    finally:
        db.dispose()


async def test_add_edit_list_remove_and_undo(term, tmp_path):
    out = await term.type("saved add Refund", "`cancel` stops:")
    assert "New saved reply “Refund”, a team reply." in out and "{customer.first_name}  the customer's first name" in out
    out = await term.type("Hi {customer.firstname}", "`cancel` stops:")
    assert "Pitchin does not know {customer.firstname}." in out  # asked again
    await term.type("Hi {customer.first_name|there},\\nrefunded. {me.first_name}", "Saved “Refund” as a team reply.")
    assert rows(tmp_path)[0].text == "Hi {customer.first_name|there},\nrefunded. {me.first_name}"

    out = await term.type("saved edit refund", "`cancel` stops:")
    assert "It says now:\nHi {customer.first_name|there},\nrefunded." in out
    await term.type("", "Name (Enter keeps “Refund”):")
    await term.type("Refund sent", "Changed “Refund sent” (renamed from “Refund”), team.")

    await term.type("saved add Tip --mine Restart the app.", "Saved “Tip” as your own reply.")
    out = await term.type("saved list refund", "shows one in full.")
    assert "• Refund sent · team · Hi {customer.first_name|there}," in out and "Tip" not in out.split("Saved")[-1]

    out = await term.type('saved remove "Refund sent"', "saved restore")
    assert "Removed the team reply “Refund sent”." in out
    command = out.strip().splitlines()[-1].removeprefix("→ ")
    assert command == f"saved restore {rows(tmp_path)[0].id}"
    await term.type(command, "“Refund sent” is back, as it was.")
    out = await term.type("saved add Nothing", "`cancel` stops:")
    await term.type("cancel", "Nothing saved.")
    assert [r.name for r in rows(tmp_path)] == ["Refund sent", "Tip"]


async def test_save_a_tickets_answer_and_placeholders_are_not_sent(term, tmp_path):
    await term.post_message(CAROL)
    await term.wait_for("└─ claim 1 · close 1")
    await term.type("reply 1 Hello Carol, we refunded the second charge.", "before then to take it back.")
    out = await term.type("saved add Double charge from #1", "From the last answer on #1:")
    assert "Saved “Double charge” as a team reply." in out
    assert "Hello {customer.first_name|there}, we refunded the second charge." in out
    saved = [r for r in rows(tmp_path) if r.name == "Double charge"]
    assert saved and saved[0].source_message_id is not None

    out = await term.type("reply 1 Your [[amount]] is back.", "Not sent")
    assert "Not sent: fill in this placeholder first: [[amount]]." in out
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    try:
        with db.transaction(read_only=True) as session:
            replies = session.execute(select(OutboxJob).where(OutboxJob.kind == "customer.reply")).all()
    finally:
        db.dispose()
    assert len(replies) == 1  # the first answer only
