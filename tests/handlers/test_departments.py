"""Departments and what each hears: `department add|list|remove|unmove` with bad input refused
(what is wrong, and the usage line); a department's `about` words choosing its issues; "Not ours →
Billing" moving an issue, and later issues like it, to Billing's briefing, and Undo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from handlers import registry
from handlers.base import Actor, Named
from handlers.briefing_compose import compose
from handlers.departments import week_before
from storage.models import Department, IssueRoute
from tests.handlers.briefing_helpers import CARDS, PASSWORDS, REFUNDS, background, people, seed
from tests.handlers.rotation_helpers import set_clock
from tests.handlers.test_briefings import ANN, MONDAY, THIS_WEEK, two_weeks

BOB = Actor("test", "U-BOB", "Bob")
NAMED = Named(people=(BOB,), channels=("C-BILL",), here="C-HERE")


def say(ctx, text: str, actor: Actor = ANN, named: Named = NAMED):
    return registry.run_command(ctx, actor, text, "", named)


def briefing_of(ctx, name: str, due=MONDAY):
    since, until = week_before(due)
    with ctx.db.transaction() as s:
        dept = s.execute(select(Department).where(Department.name == name)).scalar_one()
        return compose(ctx, s, dept, since, until)


def topics(b) -> list[str]:
    out = []
    for issue in b.issues:
        words = " ".join(q.text for q in issue.quotes).lower()
        out.append(("+" if issue.extra else "") + ("refunds" if "refund" in words else "cards" if "card" in words
                                                    else "passwords"))
    return out


def test_add_list_and_remove(ctx, clock):
    set_clock(clock, MONDAY - timedelta(days=3))
    said = say(ctx, "department add Billing <channel:0> <person:0> about refunds money back weekly tue 10:30 "
                    "tz Europe/Berlin")
    assert said.ok and said.text == (
        "Department Billing added: its briefing goes to #C-BILL every Tue 10:30 Europe/Berlin. It hears the issues "
        "closest to “refunds money back” (and the company's top one). Its managers get a copy by DM: Bob. "
        "See it now: brief Billing")
    said = say(ctx, "department add Support here", actor=Actor("test", "U-CEM", "Cem"))
    assert said.text.startswith("Department Support added: its briefing goes to #C-HERE every Mon 09:00 UTC (no time "
                                "zone given and none known for you: UTC; add tz Europe/Berlin to change). It hears "
                                "the company's top three issues. No managers named: it goes to the channel only.")
    with ctx.db.transaction() as s:
        billing = s.execute(select(Department).where(Department.name == "Billing")).scalar_one()
        assert (billing.platform, billing.weekday, billing.at_time, billing.tz) == ("test", 1, "10:30", "Europe/Berlin")
        assert billing.about_vector is not None and len(billing.about_vector) == 768 and billing.about_model
    listed = say(ctx, "department list").text
    assert listed.splitlines() == [
        "Billing: #C-BILL, Tue 10:30 Europe/Berlin; about “refunds money back”; managers: Bob",
        "Support: #C-HERE, Mon 09:00 UTC; the company's top three; managers: none"]
    said = say(ctx, "department remove billing")
    assert said.text == "Department Billing removed: no more briefings in #C-BILL."
    assert say(ctx, "department").text.splitlines() == [
        "Support: #C-HERE, Mon 09:00 UTC; the company's top three; managers: none"]


@pytest.mark.parametrize("text, error, usage", [
    ("department add", "Give the department a name and its channel.", "department add <Name> #channel"),
    ("department add Billing", "Say which channel Billing works in, after its name.", "department add <Name>"),
    ("department add Billing nowhere", "“nowhere” is not a channel: mention the department's channel (#billing), "
                                       "or say “here”.", "department add <Name>"),
    ("department add <channel:0> Billing", "“<channel:0>” cannot be a department's name", "department add <Name>"),
    ("department add Billing <channel:0> weekly funday 09:00", "“funday” is not a weekday", "department add"),
    ("department add Billing <channel:0> weekly mon", "Say the day and the time after “weekly”", "department add"),
    ("department add Billing <channel:0> weekly mon 25:00", "“25:00” is not a time of day", "department add"),
    ("department add Billing <channel:0> tz Mars/Base", "“Mars/Base” is not a time zone", "department add"),
    ("department add Billing <channel:0> about", "Say what the department is about after “about”", "department add"),
    ("department add Billing <channel:0> nobody", "Pitchin does not know “nobody”", "department add"),
    ("department add Billing <channel:0> tz UTC tz UTC", "“tz” is given twice.", "department add"),
    ("department remove Nope", "There is no department “Nope”. There is none yet.", "department remove <Name>"),
    ("department remove", "Give one department's name.", "department remove <Name>"),
    ("department unmove x", "Give the number of the move", "department unmove <move number>"),
    ("department frobnicate", "Pitchin does not know “department frobnicate”", "department add|list|remove"),
    ("brief Nope", "There is no department “Nope”.", "brief [department]"),
    ("brief two words", "Give one department's name at most", "brief [department]"),
])
def test_bad_input_says_what_is_wrong_and_the_usage_and_changes_nothing(ctx, text, error, usage):
    said = say(ctx, text)
    assert not said.ok
    assert error in said.text and f"\nUsage: {usage}" in said.text, said.text
    with ctx.db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Department)).scalar_one() == 0


def test_a_name_is_taken_once(ctx):
    assert say(ctx, "department add Billing <channel:0>").ok
    said = say(ctx, "department add billing <channel:0>")
    assert not said.ok and said.text.startswith("There is already a department “billing”")


def departments(ctx, clock):
    set_clock(clock, THIS_WEEK - timedelta(days=7))
    assert say(ctx, "department add Billing <channel:0> about refunds money back payments").ok
    assert say(ctx, "department add Logistics <channel:0> about card delivery post shipping").ok
    assert say(ctx, "department add Support <channel:0>").ok


def test_about_words_choose_a_departments_issues_and_the_company_top_one_is_added(ctx, clock):
    departments(ctx, clock)
    two_weeks(ctx.db)  # this week: refunds 6, card delivery 3, password resets 2
    assert topics(briefing_of(ctx, "Support")) == ["refunds", "cards", "passwords"]
    assert topics(briefing_of(ctx, "Billing")) == ["refunds"]
    assert topics(briefing_of(ctx, "Logistics")) == ["cards", "+refunds"]


def test_not_ours_moves_an_issue_and_later_ones_like_it_until_undone(ctx, clock):
    departments(ctx, clock)
    two_weeks(ctx.db)
    support = briefing_of(ctx, "Support")
    refunds = support.issues[0]
    assert [name for _, name in refunds.moves] == ["Billing", "Logistics"]  # closest words first
    billing_id = refunds.moves[0][0]
    said = registry.run_action(ctx, Actor("test", "U-DAN", "Dan"), "briefing.move", f"{refunds.issue_id}:{billing_id}")
    assert said.ok and said.text.startswith(f"Moved “{refunds.label}” to Billing: from the next briefing on, issues "
                                            "like it go to Billing's briefing and leave Support's.")
    (undo,) = said.actions
    assert (undo.label, undo.action_id) == ("Undo", "briefing.unmove")

    # next week: other customers, other words about refunds; Support no longer hears them
    next_monday = MONDAY + timedelta(days=7)
    seed(ctx.db, people("refund", REFUNDS[2:8], THIS_WEEK + timedelta(days=7), start=40)
         + people("pw", PASSWORDS[:4], THIS_WEEK + timedelta(days=7), start=40)
         + people("card", CARDS[4:7], THIS_WEEK + timedelta(days=7), start=40) + background(THIS_WEEK + timedelta(days=7), 3))
    assert topics(briefing_of(ctx, "Support", next_monday)) == ["passwords", "cards"]
    assert topics(briefing_of(ctx, "Billing", next_monday)) == ["refunds"]
    assert topics(briefing_of(ctx, "Logistics", next_monday)) == ["cards", "+passwords"]  # the top one not moved
    assert "“" in registry.run_command(ctx, ANN, "department list", "", Named()).text.splitlines()[-1]

    said = registry.run_action(ctx, ANN, undo.action_id, undo.value)
    assert said.ok and said.text == f"Undone: issues like “{refunds.label}” are no longer moved to Billing."
    assert topics(briefing_of(ctx, "Support", next_monday)) == ["refunds", "passwords", "cards"]
    again = registry.run_action(ctx, ANN, undo.action_id, undo.value)
    assert not again.ok and "not there any more" in again.text
    with ctx.db.transaction() as s:
        assert s.execute(select(func.count()).select_from(IssueRoute)).scalar_one() == 0


def test_removing_a_department_takes_the_moves_to_it_along(ctx, clock):
    departments(ctx, clock)
    two_weeks(ctx.db)
    refunds = briefing_of(ctx, "Support").issues[0]
    registry.run_action(ctx, ANN, "briefing.move", f"{refunds.issue_id}:{refunds.moves[0][0]}")
    said = say(ctx, "department remove Billing")
    assert said.text == ("Department Billing removed: no more briefings in #C-BILL. The 1 issue move to it went too: "
                         "those issues go back to the departments whose words are closest.")
    assert topics(briefing_of(ctx, "Support"))[0] == "refunds"
    stale = registry.run_action(ctx, ANN, "briefing.move", f"{refunds.issue_id}:{refunds.moves[0][0]}")
    assert not stale.ok and "not there any more" in stale.text
