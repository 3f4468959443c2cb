"""`stats` counts what became of the AI drafts decided in the window, and says nothing of drafts when
there were none."""

from __future__ import annotations

from datetime import timedelta

from handlers.stats import DraftCounts, compute
from handlers.stats_text import report_text
from storage.models import ReplyDraft
from tests.handlers.stats_helpers import at, person, ticket


def test_drafts_sent_edited_discarded_and_stale_in_the_window(database):
    with database.transaction() as session:
        ann = person(session, "Ann")
        t = ticket(session, at(1))
        decided = [("sent", 2), ("sent", 3), ("edited", 3), ("discarded", 4), ("stale", 5),
                   ("sent", 40),  # after the window
                   ("shown", None)]  # not decided yet
        for state, day in decided:
            session.add(ReplyDraft(ticket_id=t.id, requested_by_id=ann, text="Hi", state=state,
                                   decided_at=at(day) if day is not None else None))
    with database.transaction(read_only=True) as session:
        report = compute(session, at(0), at(30), at(30))
    assert report.drafts == DraftCounts(sent=2, edited=1, discarded=1, stale=1)
    assert ("AI drafts: 2 sent as drafted, 1 edited, 1 discarded, 1 out of date (the customer wrote again)"
            in report_text(report).splitlines())


def test_no_drafts_no_line(database):
    with database.transaction() as session:
        ticket(session, at(1))
    with database.transaction(read_only=True) as session:
        report = compute(session, at(0), at(0) + timedelta(days=30), at(30))
    assert report.drafts.total == 0 and "AI drafts" not in report_text(report)
