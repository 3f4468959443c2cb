"""Briefings composed from a hand-made history (three clearly different topics, several customers
each, vectors from the bundled model): the change from last week, quotes in customers' own words
(first names only) with their threads, the suggestion card, answered tickets, the AI mark."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers import briefing_render
from handlers.base import Actor
from handlers.briefing_compose import compose
from handlers.briefing_text import Written
from handlers.departments import week_before
from storage.models import BriefingIssue
from tests.handlers.briefing_helpers import CARDS, PASSWORDS, REFUNDS, Said, background, people, seed
from tests.handlers.stats_helpers import answered

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2027, 1, 11, 9, 0, tzinfo=BERLIN)  # this week's briefing is due then
THIS_WEEK = MONDAY - timedelta(days=3)
LAST_WEEK = MONDAY - timedelta(days=10)
ANN = Actor("test", "U-ANN", "Ann", tz="Europe/Berlin")


def two_weeks(db, platform: str | None = None) -> None:
    """Last week: card delivery 9 customers, refunds 4. This week: refunds 6, card delivery 3,
    password resets 2 (new)."""
    seed(db, people("card", CARDS[:9], LAST_WEEK) + people("refund", REFUNDS[:4], LAST_WEEK)
         + background(LAST_WEEK, 1), platform)
    seed(db, people("refund", REFUNDS[4:10], THIS_WEEK, answered=4, start=20)
         + people("card", CARDS[:3], THIS_WEEK, start=20) + people("pw", PASSWORDS[:2], THIS_WEEK, start=20)
         + background(THIS_WEEK, 2), platform)


def company(ctx, due=MONDAY, store=True):
    since, until = week_before(due)
    with ctx.db.transaction() as session:
        return compose(ctx, session, None, since, until, store=store, zone=BERLIN)


def topic(issue) -> str:
    words = " ".join(q.text for q in issue.quotes).lower() + " " + issue.label.lower()
    return "refunds" if "refund" in words else "cards" if "card" in words else "passwords"


def test_the_change_from_last_week_is_true_and_issues_keep_their_identity(ctx):
    two_weeks(ctx.db)
    before = company(ctx, MONDAY - timedelta(days=7))  # last week's briefing, as it went out then
    assert [(topic(i), i.customers) for i in before.issues] == [("cards", 9), ("refunds", 4)]
    now = company(ctx)
    assert [(topic(i), i.customers, briefing_render.change_words(i.customers, i.before)) for i in now.issues] == [
        ("refunds", 6, "↑ from 4"), ("cards", 3, "↓ from 9"), ("passwords", 2, "new this week")]
    with ctx.db.transaction() as s:
        rows = {r.id: r for r in s.execute(select(BriefingIssue)).scalars()}
    for shown, last in ((now.issues[0], before.issues[1]), (now.issues[1], before.issues[0])):
        assert rows[shown.issue_id].previous_id == last.issue_id  # the same issue as last week's
    assert rows[now.issues[2].issue_id].previous_id is None


def test_each_issue_shows_quotes_with_threads_first_names_its_card_and_answered_tickets(ctx):
    two_weeks(ctx.db, platform="slack")
    seed(ctx.db, [Said("dora@example.com", "Dora Smith", "Refund still not on my card after two weeks, where is it?",
                       THIS_WEEK + timedelta(hours=5), card="Faster refunds")], platform="slack")
    b = company(ctx)
    refunds = b.issues[0]
    assert refunds.customers == 7 and refunds.tickets == 7 and refunds.answered == 4
    assert refunds.card == (1, "Faster refunds", "planned")
    assert len(refunds.quotes) == 2 and len({q.who for q in refunds.quotes}) == 2
    for q in refunds.quotes:
        assert q.text in " ".join(REFUNDS + ["Refund still not on my card after two weeks, where is it?"])
        assert q.who.startswith(("Refund", "Dora")) and "Surname" not in q.who and "@" not in q.who
        assert q.links["slack"].startswith("https://slack.com/archives/CSUPPORT/p1700000")
    text = briefing_render.body(b, "slack")
    assert "Suggestion card #1 “Faster refunds” (planned) · 4 of 7 tickets answered" in text
    assert "@example.com" not in text and "Surname" not in text
    assert briefing_render.AI_MARK not in text  # no writer: labels are the central message, shortened
    assert refunds.label in REFUNDS + ["Refund still not on my card after two weeks, where is it?"]


class FakeWriter:
    """A language model as the IssueWriter protocol sees it: a label, a summary, quotes (one not verbatim)."""

    def __init__(self):
        self.shown = []

    def write(self, quotes):
        self.shown.append(list(quotes))
        first = quotes[0]
        return Written(f"Issue about: {first[:20]}", "Customers wait. They want to know why.",
                       (first[:30], "I love how fast my refund came"))


def test_labels_by_a_language_model_are_marked_and_an_invented_quote_is_dropped(ctx):
    two_weeks(ctx.db)
    ctx.writer = FakeWriter()
    b = company(ctx)
    text = briefing_render.body(b, None)
    assert text.count(f"· {briefing_render.AI_MARK}") == 3
    assert "Customers wait. They want to know why." in text
    assert "I love how fast my refund came" not in text  # not a customer's words: dropped
    assert all(len(q) <= 12 for q in ctx.writer.shown)  # it saw the issue's messages only
    assert not any("@" in t for q in ctx.writer.shown for t in q)
    first = ctx.writer.shown[0][0]
    assert b.issues[0].quotes[0].text == first[:30].strip()  # its verbatim pick is the first quote


def test_a_week_with_nothing_raised_says_so_in_one_line(ctx):
    b = company(ctx)
    assert b.issues == ()
    assert briefing_render.empty_text(b) == ("📣 Nothing customers raised this week (Mon 4 Jan – Mon 11 Jan): no new "
                                             "ticket and no feedback logged. No briefing this time.")


def test_the_briefing_ends_with_the_weeks_satisfaction_and_nps(ctx):
    two_weeks(ctx.db)
    with ctx.db.transaction() as s:
        for rating, nps in (("great", 10), ("great", 9), ("great", 8), ("not_good", 2)):
            answered(s, rating, THIS_WEEK + timedelta(hours=1), nps)
        answered(s, "not_good", LAST_WEEK, 0)  # the week before: another briefing's
    text = briefing_render.body(company(ctx), None)
    assert text.endswith("answered\n\nSatisfaction last week: 75% Great (3 Great, 0 Okay, 1 Not good)\n"
                         "NPS last week: +25 (2 promoters, 1 passive, 1 detractor)")


def test_without_answers_the_lines_say_so_and_a_silent_week_stays_one_line(ctx):
    two_weeks(ctx.db)
    assert briefing_render.body(company(ctx), None).endswith(
        "\n\nSatisfaction last week: no ratings yet\nNPS last week: no NPS answers yet")
    quiet = company(ctx, MONDAY + timedelta(days=14))
    assert briefing_render.empty_text(quiet).count("\n") == 0
    with ctx.db.transaction() as s:
        answered(s, "great", MONDAY + timedelta(days=10))
    rated = company(ctx, MONDAY + timedelta(days=14))
    assert briefing_render.empty_text(rated).splitlines()[1:] == [
        "Satisfaction last week: 100% Great (1 Great, 0 Okay, 0 Not good)", "NPS last week: no NPS answers yet"]
