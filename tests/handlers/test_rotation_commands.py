"""The `rotation …` and `who` commands through the registry, with a fixed clock: what each answers,
who is told by DM (the outbox), and bad input that changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from handlers import outbound, registry
from handlers.base import Actor, Named
from handlers.context import Context
from handlers.rotations import shifts_between
from storage import repos
from storage.models import OutboxJob, Rotation, RotationAway, RotationMember, RotationOverride

UTC = timezone.utc
ANN = Actor("test", "U-ANN", "Ann", tz="Europe/Berlin")
BOB = Actor("test", "U-BOB", "Bob")
CEM = Actor("test", "U-CEM", "Cem", email="cem@example.com")
DAN = Actor("test", "U-DAN", "Dan")
EVE = Actor("test", "U-EVE", "Eve")
TEAM = Named(people=(ANN, BOB, CEM, DAN, EVE))
A, B, C, D, E = (f"<person:{i}>" for i in range(5))


class At:
    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock():
    return At(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))  # Monday 30 Nov, 08:00 in Berlin


@pytest.fixture
def rctx(database, clock):
    return Context(db=database, platforms=("test",), clock=clock)


def run(ctx, text: str, actor: Actor = ANN, named: Named = TEAM):
    return registry.run_command(ctx, actor, text, "/pitchin ", named)


def dms(ctx) -> dict[str, list[str]]:
    """Who was sent which DM, by name."""
    with ctx.db.transaction() as s:
        jobs = s.execute(select(OutboxJob).where(OutboxJob.kind == outbound.CHAT_DIRECT).order_by(OutboxJob.id)).scalars()
        jobs = [(j.payload["person_id"], j.payload["text"]) for j in jobs]
        names = {pid: ref.name for pid, ref in repos.person_refs(s, [p for p, _ in jobs]).items()}
    found: dict[str, list[str]] = {}
    for pid, text in jobs:
        found.setdefault(names[pid], []).append(text)
    return found


def on_duty(ctx, days=7) -> list[str]:
    with ctx.db.transaction() as s:
        shifts = shifts_between(s, ctx.now(), ctx.now() + timedelta(days=days))
        names = {pid: ref.name for pid, ref in repos.person_refs(s, [p for sh in shifts for p in sh.person_ids]).items()}
    return ["+".join(names[p] for p in sh.person_ids) for sh in shifts]


def counts(ctx) -> tuple[int, ...]:
    with ctx.db.transaction() as s:
        return tuple(s.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Rotation, RotationMember, RotationOverride, RotationAway, OutboxJob))


def test_create_answers_the_cadence_and_the_next_shifts_in_the_creators_zone(rctx):
    reply = run(rctx, f"rotation create support {A} {B} {C}")
    assert reply.ok, reply.text
    assert "Europe/Berlin" in reply.text and "You are its admin" in reply.text
    assert "Each person is on duty one day every 3 working days; next: Mon 30 Nov Ann, Tue 1 Dec Bob, Wed 2 Dec Cem" \
        in reply.text
    assert on_duty(rctx) == ["Ann", "Bob", "Cem", "Ann", "Bob"]
    fifteen = Named(people=tuple(Actor("test", f"U{i}", f"P{i}") for i in range(15)))
    reply = run(rctx, "rotation create big " + " ".join(f"<person:{i}>" for i in range(15)) + " tz Asia/Tokyo",
                BOB, fifteen)
    # 16:00 in Tokyo: today's shift has begun, so the order starts tomorrow
    assert "Mon–Fri 09:00–17:00 Asia/Tokyo" in reply.text
    assert reply.text.endswith("one day every 3 weeks; next: Tue 1 Dec P0, Wed 2 Dec P1, Thu 3 Dec P2, Fri 4 Dec P3, "
                               "Mon 7 Dec P4, …")
    assert "no time zone given" not in reply.text


def test_no_zone_known_means_utc_and_says_so(rctx):
    reply = run(rctx, f"rotation create support {A} {B}", BOB)
    assert "UTC (no time zone given and none known for you: UTC; add tz Europe/Berlin to change)" in reply.text


def test_show_and_who_list_today_and_the_next_ten_in_the_askers_zone(rctx):
    run(rctx, f"rotation create support {A} {B} {C} at 09:30 until 18:00 tz America/New_York")
    text = run(rctx, "who").text
    # 09:30 in New York is 15:30 in Berlin (Ann's zone)
    assert "Times below in Europe/Berlin" in text
    assert "Today: Mon 30 Nov 15:30–00:00 Ann" in text
    lines = [line for line in text.splitlines() if line.startswith("  ")]
    assert len(lines) == 10 and lines[0] == "  Tue 1 Dec 15:30–00:00 Bob"
    assert run(rctx, "rotation show support").text == text
    assert run(rctx, "rotation").text == text
    assert "Times below in America/New_York" in run(rctx, "who", BOB).text  # Bob's zone is not known


def test_add_and_remove_tell_everyone_whose_next_shift_moves(rctx):
    run(rctx, f"rotation create support {A} {B} {C}")
    reply = run(rctx, f"rotation add support {D} after {A}")
    assert reply.ok, reply.text
    assert on_duty(rctx) == ["Ann", "Dan", "Bob", "Cem", "Ann"]
    assert dms(rctx) == {
        "Dan": ["Your next support day in the support rotation is Tue 1 Dec."],
        "Bob": ["Your next support day in the support rotation moved from Tue 1 Dec to Wed 2 Dec."],
        "Cem": ["Your next support day in the support rotation moved from Wed 2 Dec to Thu 3 Dec."],
    }
    assert "Told by DM that their next shift moved: Bob, Cem, Dan." in reply.text
    reply = run(rctx, f"rotation remove support {B}")
    assert on_duty(rctx) == ["Ann", "Dan", "Cem", "Ann", "Dan"]
    assert dms(rctx)["Bob"][-1] == "You are no longer on duty on Wed 2 Dec in the support rotation."
    assert dms(rctx)["Cem"][-1] == "Your next support day in the support rotation moved from Thu 3 Dec to Wed 2 Dec."
    assert "Ann" not in dms(rctx)


def test_cover_posts_take_it_and_the_first_click_wins(rctx):
    run(rctx, f"rotation create support {A} {B} {C} channel <channel:0>", named=Named(TEAM.people, ("C-SUP",)))
    reply = run(rctx, "rotation cover tue", BOB)
    assert reply.ok, reply.text
    with rctx.db.transaction() as s:
        post = s.execute(select(OutboxJob).where(OutboxJob.kind == outbound.CHAT_POST)).scalar_one().payload
    assert post["channel"] == "C-SUP" and post["text"].startswith("Bob needs cover for Tue 1 Dec")
    (button,) = post["card"]["actions"]
    assert (button["label"], button["action_id"]) == ("Take it", "rotation.take")
    assert not registry.run_action(rctx, BOB, "rotation.take", button["value"]).ok  # not your own
    won = registry.run_action(rctx, CEM, "rotation.take", button["value"])
    lost = registry.run_action(rctx, ANN, "rotation.take", button["value"])
    assert won.ok and "You are on duty on Tue 1 Dec" in won.text
    assert not lost.ok and lost.text.startswith("Cem took it already")
    assert dms(rctx)["Bob"] == ["Cem takes your shift on Tue 1 Dec in the support rotation. You are off that day."]
    assert on_duty(rctx) == ["Ann", "Cem", "Cem", "Ann", "Bob"]


def test_asking_cover_for_a_swapped_day_keeps_the_swap_until_someone_takes_it(rctx):
    run(rctx, f"rotation create support {A} {B} {C}")
    run(rctx, f"rotation swap {B} {C} tue", CEM)  # Cem on Tuesday, Bob on Wednesday
    assert run(rctx, "rotation cover tue", CEM).ok
    assert on_duty(rctx) == ["Ann", "Cem", "Bob", "Ann", "Bob"]  # asked, not taken: Cem still
    with rctx.db.transaction() as s:
        value = s.execute(select(RotationOverride.id).where(RotationOverride.kind == "cover")).scalar_one()
    assert registry.run_action(rctx, DAN, "rotation.take", str(value)).ok
    assert on_duty(rctx) == ["Ann", "Dan", "Bob", "Ann", "Bob"]


def test_swap_by_either_person_or_the_admin_only(rctx):
    run(rctx, f"rotation create support {A} {B} {C}")
    before = counts(rctx)
    refused = run(rctx, f"rotation swap {B} {C} tue", DAN)
    assert not refused.ok and "admin (who created support)" in refused.text and counts(rctx) == before
    reply = run(rctx, f"rotation swap {B} {C} tue", CEM)
    assert reply.ok, reply.text
    assert on_duty(rctx, 8) == ["Ann", "Cem", "Bob", "Ann", "Bob", "Cem"]
    assert dms(rctx) == {"Cem": ["Swapped in the support rotation: you are on duty on Tue 1 Dec instead of Wed 2 Dec."],
                         "Bob": ["Swapped in the support rotation: you are on duty on Wed 2 Dec instead of Tue 1 Dec."]}


def test_away_skip_and_onboard(rctx):
    run(rctx, f"rotation create support {A} {B} {C}")
    reply = run(rctx, f"rotation away {B} 2026-12-01 2026-12-02")
    assert reply.ok, reply.text
    assert on_duty(rctx) == ["Ann", "Cem", "Ann", "Bob", "Cem"]
    assert dms(rctx)["Bob"] == ["Your next support day in the support rotation moved from Tue 1 Dec to Thu 3 Dec."]
    reply = run(rctx, "rotation skip thu")
    assert reply.ok and "No shift on Thu 3 Dec in support; nobody loses a turn" in reply.text
    assert on_duty(rctx) == ["Ann", "Cem", "Ann", "Bob"]  # Bob's Thursday turn comes on Friday
    reply = run(rctx, f"rotation onboard {E} 2 days buddy {C}")
    assert reply.ok, reply.text
    assert "for 2 working days from Tue 1 Dec, with Cem as buddy" in reply.text
    # two days alongside, then at the end of the queue: after Bob, Cem and Ann
    assert on_duty(rctx, 10) == ["Ann", "Cem+Eve", "Ann+Eve", "Bob", "Cem", "Ann", "Eve"]


def test_stats_list_each_persons_shifts_in_the_last_90_days(rctx, clock):
    run(rctx, f"rotation create support {A} {B} {C}")
    clock.moment += timedelta(weeks=3)
    text = run(rctx, "rotation show support --stats").text
    assert text.splitlines() == ["support: shifts in the last 90 days", "  Ann: 5", "  Bob: 5", "  Cem: 5"]


@pytest.mark.parametrize("command, says", [
    (f"rotation create other {A} <person:9>", "Pitchin does not know “<person:9>”"),
    (f"rotation create other {A} nobody", "Pitchin does not know “nobody”"),
    ("rotation create other", "A rotation needs people"),
    (f"rotation create other {A} tz Mars/Olympus", "“Mars/Olympus” is not a time zone"),
    (f"rotation create other {A} days someday", "is not a list of days"),
    (f"rotation create other {A} {A}", "Someone is named twice"),
    (f"rotation crate support {A}", "Pitchin does not know “rotation crate”"),
    (f"rotation away {B} 2026-11-01", "Sun 1 Nov is in the past"),
    ("rotation skip 2026-11-27", "Fri 27 Nov is in the past"),
    ("rotation cover someday", "“someday” is not a date"),
    (f"rotation add support {B}", "is in the support rotation already"),
    (f"rotation remove support {D}", "Dan is not in the support rotation"),
    ("rotation usergroup support support-today", "is not a user group"),
    ("rotation show nosuch", "There is no rotation “nosuch”"),
])
def test_bad_input_gets_the_usage_line_and_changes_nothing(rctx, command, says):
    run(rctx, f"rotation create support {A} {B} {C}")
    before = counts(rctx)
    reply = run(rctx, command)
    assert not reply.ok and says in reply.text, reply.text
    assert "\nUsage: /pitchin rotation" in reply.text
    assert counts(rctx) == before


def test_the_console_names_people_by_name_or_email(rctx):
    with rctx.db.transaction() as s:
        for actor in (ANN, BOB, CEM):
            repos.person_for(s, actor)
    reply = run(rctx, "rotation create support ann @Bob cem@example.com", Actor("console", "dan", "Dan"), Named())
    assert reply.ok, reply.text
    assert on_duty(rctx, 3) == ["Ann", "Bob", "Cem"]
    with rctx.db.transaction() as s:
        repos.person_for(s, Actor("console", "ann", "Ann"))  # a second Ann
    reply = run(rctx, "rotation create other ann", Actor("console", "dan", "Dan"), Named())
    assert not reply.ok and "More than one person is called “ann”: name them by email." in reply.text


def test_the_readme_example_week(rctx):
    """README, "Support rotations": five people, Thursday a holiday, Bob away on Tuesday."""
    run(rctx, f"rotation create support {A} {B} {C} {D} {E} days mon-fri at 09:00 tz Europe/Berlin")
    assert on_duty(rctx, 8) == ["Ann", "Bob", "Cem", "Dan", "Eve", "Ann"]
    run(rctx, "rotation skip 2026-12-03")
    run(rctx, f"rotation away {B} 2026-12-01")
    assert on_duty(rctx, 8) == ["Ann", "Cem", "Bob", "Dan", "Eve"]
