"""`use <ticket>` in `pitchin console`: the three closest saved replies, numbered and filled in; the
one chosen (kept or retyped) is posted in the ticket's thread and reaches the customer by the normal
reply path; a placeholder left unfilled is refused before anything is posted."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import SavedReply, TicketMessage
from tests.console.test_console import CAROL, close_console, open_console

REPLIES = [
    ("Refund", "Hi {customer.first_name|there}, we have refunded the second charge; it reaches you in 5 to 10 days. "
               "{me.first_name}"),
    ("Card delivery", "Hi {customer.first_name|there}, a new card arrives by post within 7 working days."),
    ("Reset password", "To reset your password, click “Forgot password” on the sign-in page."),
    ("Refund amount", "We refunded [[amount]] to your card, {customer.first_name|there}."),
]


def save_replies(tmp_path, replies=REPLIES) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    with db.transaction() as session:
        session.add_all([SavedReply(name=name, name_key=name.lower(), text=text) for name, text in replies])
    db.dispose()


def replies_stored(tmp_path) -> list[str]:
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    with db.transaction(read_only=True) as session:
        texts = [m.text for (m,) in session.execute(select(TicketMessage).where(TicketMessage.kind == "reply"))]
    db.dispose()
    return texts


async def test_use_offers_three_numbered_and_sends_the_chosen_one(tmp_path):
    term = await open_console(tmp_path)
    try:
        out = await term.type("use 1", "There is no ticket #1")
        await term.post_message(CAROL)
        await term.wait_for("└─ claim 1 · close 1 · use 1 · feedback from 1")
        out = await term.type("use 1", "There are no saved replies yet.")
        assert "`saved add <name>`" in out
        save_replies(tmp_path)

        out = await term.type("use 1", "Which one? (1–3, or `cancel`)")
        assert "Saved replies closest to the customer's message on #1 · Double charge:" in out
        assert "  1. Refund\n     Hi Carol, we have refunded the second charge; it reaches you in 5 to 10 days. ann" in out
        numbered = {line[2]: line[5:] for line in out.splitlines() if line[:4] in ("  1.", "  2.", "  3.")}
        assert len(numbered) == 3 and "Refund amount" in numbered.values()
        await term.type("7", "Type a number from 1 to 3")
        amount = next(number for number, name in numbered.items() if name == "Refund amount")
        out = await term.type(amount, "Press Enter to send “Refund amount”")
        assert "Fill in [[amount]]." in out
        out = await term.type("", "Not sent: fill in this placeholder first: [[amount]]")
        assert replies_stored(tmp_path) == []

        await term.type("use 1", "Which one?")
        await term.type("1", "Press Enter to send “Refund” as shown")
        out = await term.type("", "Type `undo")
        assert "(saved reply “Refund”): Hi Carol, we have refunded the second charge" in out
        (mail,) = await term.wait_mails(1)
        assert "Hi Carol, we have refunded the second charge" in mail.get_content()
        assert "saved reply" not in mail.get_content()
        assert replies_stored(tmp_path) == ["Hi Carol, we have refunded the second charge; it reaches you in 5 to "
                                            "10 days. ann"]

        await term.type("use 1", "Which one?")
        await term.type("cancel", "Nothing sent.")
    finally:
        await close_console(term)
