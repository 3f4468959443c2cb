"""Briefings in the console: departments with #channels typed plainly, `brief` with its buttons as
commands to type (each with its label), a move and its undo, and Post queued in the channel once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from storage.db import Database
from tests.console.test_console import term  # noqa: F401  (the fixture)
from tests.handlers.briefing_helpers import CARDS, PASSWORDS, REFUNDS, background, people, seed


def this_week(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    two_days_ago = datetime.now(timezone.utc) - timedelta(days=2)
    seed(db, people("refund", REFUNDS[:6], two_days_ago) + people("card", CARDS[:3], two_days_ago)
         + people("pw", PASSWORDS[:2], two_days_ago) + background(two_days_ago, 1))
    db.dispose()


async def test_departments_brief_a_move_and_post_in_the_terminal(term, tmp_path):  # noqa: F811
    this_week(tmp_path)
    out = await term.type("department add Support #support", "See it now")
    assert "Department Support added: its briefing goes to #support every Mon 09:00 UTC" in out
    await term.type("department add Billing #billing about refunds money back payments", "See it now")

    out = await term.type("brief Support", "Post to #support")
    assert "📣 What customers said, for Support" in out
    assert re.search(r"1\. .*refund.* · 6 customers \(new this week\)", out)
    assert "— Refund0" in out and "@example.com" not in out
    move = re.search(r"1 · Not ours → Billing: (move \d+:\d+)", out).group(1)
    post = re.search(r"Post to #support: (post \d+:\d+)", out).group(1)

    out = await term.type(move, "Undo")
    assert "to Billing: from the next briefing on, issues like it go to Billing's briefing and leave Support's." in out
    unmove = re.search(r"Undo: (unmove \d+)", out).group(1)
    out = await term.type("brief Support", "Post to #support")
    assert "6 customers" not in out  # the refunds went to Billing
    out = await term.type(unmove, "no longer moved to Billing")
    assert "Undone: issues like" in out

    out = await term.type(post, "📣 #support: 📣 What customers said, for Support")
    assert "Queued in #support" in out
    out = await term.type(post, "posted once")
    assert "This briefing is in #support already" in out

    out = await term.type("department remove Nope", "Usage: department remove <Name>")
    assert "There is no department “Nope”. Known: Billing, Support." in out
