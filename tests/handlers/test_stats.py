"""Stats figures on hand-computed cases: the arithmetic alone, then a two-week history read from the
database (SQLite and PostgreSQL), then the `stats` command's answer."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest

from handlers import registry
from handlers.base import Actor
from handlers.context import Context
from handlers.stats import Nps, Ratings, Spread, Week, compute, median, p90, rounded
from handlers.stats_text import briefing_lines, duration_words, nps_words, report_text, satisfaction_words
from tests.handlers.stats_helpers import answered, at, person, survey, ticket

ANN = Actor("test", "U-ANN", "Ann")
MIN = timedelta(minutes=1)


# ---------------------------------------------------------------- arithmetic


def test_percentages_round_half_away_from_zero():
    assert [rounded(Fraction(n, 2)) for n in (25, -25, 24, -24, 1, -1)] == [13, -13, 12, -12, 1, -1]
    assert rounded(Fraction(200, 3)) == 67 and rounded(Fraction(100, 3)) == 33


def test_no_ratings_and_no_nps_answers_say_so_and_never_divide():
    assert Ratings().great_percent is None and Nps().score is None
    assert satisfaction_words(Ratings()) == "no ratings yet"
    assert nps_words(Nps()) == "no NPS answers yet"
    assert briefing_lines(Ratings(), Nps()) == ("Satisfaction last week: no ratings yet",
                                                "NPS last week: no NPS answers yet")


def test_one_rating_is_all_of_them():
    assert satisfaction_words(Ratings.of(["okay"])) == "0% Great (0 Great, 1 Okay, 0 Not good)"
    assert satisfaction_words(Ratings.of(["great"])) == "100% Great (1 Great, 0 Okay, 0 Not good)"


def test_percent_great_with_ties_and_thirds():
    assert Ratings.of(["great", "okay", "not_good"]).great_percent == 33
    assert Ratings.of(["great", "great", "not_good"]).great_percent == 67
    assert Ratings.of(["great", "not_good"]).great_percent == 50
    assert Ratings.of(["great"] * 14 + ["okay"] * 2 + ["not_good"]).great_percent == 82  # 14/17 = 82.35 %


def test_nps_from_promoters_passives_and_detractors():
    assert Nps.of([9, 10, 10]).score == 100  # promoters only
    assert Nps.of([0, 6, 3]).score == -100  # detractors only
    assert Nps.of([7, 8]).score == 0  # passives only
    assert Nps.of([10, 9, 9, 10, 9, 10, 7, 8, 7, 2]) == Nps(6, 3, 1)
    assert nps_words(Nps(6, 3, 1)) == "+50 (6 promoters, 3 passives, 1 detractor)"
    assert nps_words(Nps.of([10] + [7] * 7)) == "+13 (1 promoter, 7 passives, 0 detractors)"  # 12.5 → 13
    assert nps_words(Nps.of([1] + [8] * 7)) == "−13 (0 promoters, 7 passives, 1 detractor)"
    assert nps_words(Nps.of([10, 0])) == "0 (1 promoter, 0 passives, 1 detractor)"
    assert briefing_lines(Ratings(14, 2, 1), Nps(6, 3, 1)) == (
        "Satisfaction last week: 82% Great (14 Great, 2 Okay, 1 Not good)",
        "NPS last week: +50 (6 promoters, 3 passives, 1 detractor)")


def test_median_of_odd_and_even_counts():
    assert median([]) is None
    assert median([5 * MIN]) == 5 * MIN
    assert median([9 * MIN, 1 * MIN, 5 * MIN]) == 5 * MIN
    assert median([4 * MIN, 1 * MIN, 3 * MIN, 2 * MIN]) == timedelta(minutes=2, seconds=30)


def test_p90_is_the_nearest_rank():
    assert p90([]) is None
    assert p90([7 * MIN]) == 7 * MIN
    assert p90([n * MIN for n in range(1, 11)]) == 9 * MIN  # ⌈0.9 × 10⌉ = 9th
    assert p90([n * MIN for n in range(11, 0, -1)]) == 10 * MIN  # ⌈9.9⌉ = 10th
    assert p90([n * MIN for n in range(1, 21)]) == 18 * MIN
    assert p90([1 * MIN, 2 * MIN]) == 2 * MIN  # ⌈1.8⌉ = 2nd


def test_a_clock_step_backwards_is_no_negative_time():
    assert Spread.of([-5 * MIN, 10 * MIN]) == Spread(2, 5 * MIN, 10 * MIN)


def test_durations_in_words():
    assert [duration_words(d) for d in (
        timedelta(seconds=20), timedelta(seconds=40), 45 * MIN, 60 * MIN, 80 * MIN, timedelta(hours=23, minutes=59),
        timedelta(days=1), timedelta(days=2, hours=3), timedelta(days=2, hours=3, minutes=40), timedelta(days=40),
    )] == ["under 1 min", "1 min", "45 min", "1 h", "1 h 20 min", "23 h 59 min", "1 d", "2 d 3 h", "2 d 4 h",
           "40 d"]


# ---------------------------------------------------------------- from the database


def two_weeks(session) -> None:
    """Two weeks from MONDAY, figures worked out by hand in the test below."""
    ann, bob, cem = person(session, "Ann"), person(session, "Bob"), person(session, "Cem")
    t1 = ticket(session, at(0, 9), at(1, 9), [(ann, at(0, 10, 20))])  # answered in 80 min, closed in 1 d
    t2 = ticket(session, at(1, 8), at(3, 11), [(ann, at(1, 12)), (bob, at(1, 8, 30))])  # 30 min; 2 d 3 h
    ticket(session, at(2), None, [(ann, None)])  # an older row without delivered_at: accepted after 1 min
    ticket(session, at(8), None, [(cem, None, "failed")])  # not delivered: still waiting
    t5 = ticket(session, at(9), at(9, 1))  # closed in 1 h without a reply
    t6 = ticket(session, at(10), None, [(bob, at(12))])  # 2 d
    t7 = ticket(session, at(-3), at(2), [(cem, at(-2))])  # came before the window, closed in it after 5 d
    ticket(session, at(13, 23))  # still waiting
    t9 = ticket(session, at(14))  # the window's end: not in it
    survey(session, t1, "great", at(1, 10), 10, at(1, 10))
    survey(session, t2, "great", at(4), 9, at(4), referral="search")
    survey(session, t5, "not_good", at(9, 5), 3, at(9, 5), referral="other", other="a podcast")
    survey(session, t7, "okay", at(2, 1), 7, at(2, 1), referral="friend")
    survey(session, t6, "great", at(13), referral="search")  # no NPS asked: the referral counts by its rating
    survey(session, t9, "not_good", at(14, 1), 0, at(14, 1), referral="ad")  # after the window


def test_a_two_week_history_gives_the_figures_worked_out_by_hand(any_database):
    with any_database.transaction() as session:
        two_weeks(session)
    with any_database.transaction(read_only=True) as session:
        r = compute(session, at(0), at(14), at(14))
    assert r.ratings == Ratings(3, 1, 1) and r.ratings.great_percent == 60
    assert r.nps == Nps(2, 1, 1) and r.nps.score == 25
    assert r.tickets_in == 7 and r.tickets_closed == 4
    # first responses 1, 30, 80 and 2880 min: median (30 + 80) / 2, p90 the 4th of 4
    assert r.first_response == Spread(4, 55 * MIN, timedelta(days=2))
    assert (r.waiting, r.closed_unanswered) == (2, 1)
    # closed after 1 h, 1 d, 2 d 3 h and 5 d: median (24 h + 51 h) / 2
    assert r.to_close == Spread(4, timedelta(hours=37, minutes=30), timedelta(days=5))
    assert r.helpers == 2 and r.top_helpers == (("Ann", 3), ("Bob", 2))
    assert r.referrals == (("A search engine", 2), ("A friend or colleague", 1), ("Other", 1))
    assert r.weeks == (Week(date(2026, 11, 2), 3, 3, 67, 67), Week(date(2026, 11, 9), 4, 1, 50, -100))
    assert report_text(r) == "\n".join([
        "📊 Support stats, last 14 days (2 Nov – 15 Nov 2026)",
        "Satisfaction: 60% Great (3 Great, 1 Okay, 1 Not good)",
        "NPS: +25 (2 promoters, 1 passive, 1 detractor)",
        "First response: median 55 min, p90 2 d (4 tickets answered; 2 still waiting; 1 closed without a reply)",
        "Time to close: median 1 d 14 h, p90 5 d (4 tickets)",
        "Tickets: 7 in, 4 closed",
        "Whole company: 2 people answered customers. Most replies: Ann (3), Bob (2)",
        "How customers heard of us: A search engine (2), A friend or colleague (1), Other (1)",
    ])


def test_an_empty_window_says_so_in_every_line(any_database):
    with any_database.transaction(read_only=True) as session:
        r = compute(session, at(0), at(30), at(30))
    assert r.weeks[0].monday == date(2026, 11, 2) and len(r.weeks) == 5
    assert all((w.tickets_in, w.tickets_closed, w.great_percent, w.nps) == (0, 0, None, None) for w in r.weeks)
    assert report_text(r).splitlines()[1:] == [
        "Satisfaction: no ratings yet", "NPS: no NPS answers yet", "First response: no tickets came in",
        "Time to close: no ticket closed", "Tickets: 0 in, 0 closed",
        "Whole company: nobody answered a customer yet", "How customers heard of us: no answers yet"]


def test_a_reply_not_yet_delivered_by_now_does_not_count(database):
    with database.transaction() as session:
        ann = person(session, "Ann")
        ticket(session, at(0), None, [(ann, at(0, 2))])
    with database.transaction(read_only=True) as session:
        before = compute(session, at(0), at(0, 1), at(0, 1))
        after = compute(session, at(0), at(0, 3), at(0, 3))
    assert (before.first_response.count, before.waiting) == (0, 1)
    assert "no ticket answered yet (1 still waiting)" in report_text(before)
    assert after.first_response == Spread(1, 2 * 60 * MIN, 2 * 60 * MIN) and after.waiting == 0


def test_helpers_with_equal_counts_are_listed_by_name_and_only_five(database):
    with database.transaction() as session:
        ids = [person(session, name) for name in ("zoe", "Yann", "Ann", "Bea", "Cem", "Dan", "Eve")]
        for n, pid in enumerate(ids):
            for k in range(1 if n else 2):  # zoe answered twice, everyone else once
                ticket(session, at(0, n, k), None, [(pid, at(0, n, k + 1))])
    with database.transaction(read_only=True) as session:
        r = compute(session, at(0), at(7), at(7))
    assert r.helpers == 7
    assert r.top_helpers == (("zoe", 2), ("Ann", 1), ("Bea", 1), ("Cem", 1), ("Dan", 1))


def test_referral_ties_keep_the_list_order_and_unknown_words_are_other(database):
    with database.transaction() as session:
        for referral in ("event", "social", "search", "mystery", "event", "search"):
            answered(session, "great", at(1), 9, referral=referral)
    with database.transaction(read_only=True) as session:
        r = compute(session, at(0), at(7), at(7))
    assert r.referrals == (("A search engine", 2), ("An event or talk", 2), ("Social media", 1), ("Other", 1))


def test_window_start_counts_and_end_does_not(database):
    with database.transaction() as session:
        answered(session, "great", at(0), 10)
        answered(session, "not_good", at(7), 0)
    with database.transaction(read_only=True) as session:
        r = compute(session, at(0), at(7), at(7))
    assert (r.ratings, r.nps) == (Ratings(1, 0, 0), Nps(1, 0, 0))


# ---------------------------------------------------------------- the command


def test_stats_command_answers_words_and_a_chart(ctx: Context, clock):
    with ctx.db.transaction() as session:
        two_weeks(session)
    clock.offset += at(13, 12) - ctx.now()  # now: Sunday noon, the second week's last day
    reply = registry.run_command(ctx, ANN, "stats 30d")
    assert reply.ok and reply.text.startswith("📊 Support stats, last 30 days (16 Oct – 15 Nov 2026)")
    assert "Satisfaction: 60% Great (3 Great, 1 Okay, 1 Not good)" in reply.text
    name, png = reply.image
    assert name == "pitchin-stats-2026-11-15.png" and png.startswith(b"\x89PNG\r\n\x1a\n")
    week = registry.run_command(ctx, ANN, "stats 7D")
    assert week.ok and "last 7 days (8 Nov – 15 Nov 2026)" in week.text
    assert registry.run_command(ctx, ANN, "stats").text.startswith("📊 Support stats, last 30 days")


@pytest.mark.parametrize("words", ["stats 14d", "stats week", "stats 7d 30d"])
def test_stats_with_a_wrong_window_gets_the_usage_line(ctx: Context, words):
    reply = registry.run_command(ctx, ANN, words, "/pitchin ")
    assert not reply.ok and reply.image is None
    assert reply.text.endswith("\nUsage: /pitchin stats [7d|30d|90d]")
