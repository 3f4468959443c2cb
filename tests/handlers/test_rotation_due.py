"""What the rotations' clock finds due at a moment: pure functions of the shifts and tickets, no database.

The shifts here are stand-ins with the fields of handlers.rotations.Shift; the tests with real
rotations are in test_rotation_jobs.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from handlers.rotation_jobs import (CHANNEL, HEADS_UP, NUDGE, ON_DUTY, TO_CHANNEL, TO_DUTY, USERGROUP, Waiting,
                                    escalations_due, heads_up_at, on_duty, reminders_due, working_time)

UTC = timezone.utc


@dataclass(frozen=True)
class StandInShift:
    rotation_id: int
    rotation: str
    day: date
    start: datetime
    end: datetime
    person_ids: tuple[int, ...]
    buddy_id: int | None = None
    channel: tuple[str, str] | None = None
    usergroup: str | None = None


def week(rotation_id=1, first=date(2026, 11, 30), days=5, people=(1, 2, 3), **extra) -> list[StandInShift]:
    """Working days from ``first`` (a Monday), 09:00–17:00 UTC, one person a day in turn."""
    shifts, day, n = [], first, 0
    while len(shifts) < days:
        if day.weekday() < 5:
            start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            shifts.append(StandInShift(rotation_id, "Support", day, start, start + timedelta(hours=8),
                                       (people[n % len(people)],), **extra))
            n += 1
        day += timedelta(days=1)
    return shifts


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def kinds(due) -> list[tuple[str, str]]:
    return [(d.kind, d.key) for d in due]


def test_at_a_shifts_start_its_reminders_are_due_and_stay_due_while_it_runs():
    shifts = week(channel=("slack", "CROTA"), usergroup="S1")
    assert [d for d in reminders_due(shifts, at(30, 8, 59)) if d.kind != HEADS_UP] == []
    for moment in (at(30, 9), at(30, 16, 59)):
        assert kinds(d for d in reminders_due(shifts, moment) if d.kind != HEADS_UP) == [
            (ON_DUTY, "1:2026-11-30:on-duty"), (CHANNEL, "1:2026-11-30:channel"), (USERGROUP, "1:2026-11-30:usergroup")]
    assert [d for d in reminders_due(shifts, at(30, 17)) if d.kind != HEADS_UP] == []


def test_without_a_channel_or_user_group_only_the_people_on_duty_are_told():
    assert kinds(d for d in reminders_due(week(), at(30, 9)) if d.kind != HEADS_UP) == [(ON_DUTY, "1:2026-11-30:on-duty")]


def test_the_heads_up_comes_at_the_start_of_the_working_day_before():
    shifts = week(days=6)  # Mon 30 Nov … Mon 7 Dec
    monday, tuesday, friday, next_monday = shifts[0], shifts[1], shifts[4], shifts[5]
    assert heads_up_at(tuesday, shifts) == monday.start
    assert heads_up_at(next_monday, shifts) == friday.start  # Friday, not Sunday
    assert heads_up_at(monday, shifts) == monday.start - timedelta(days=1)  # no shift before it: a day before
    due = [d for d in reminders_due(shifts, at(4, 9, month=12)) if d.kind == HEADS_UP]
    assert kinds(due) == [(HEADS_UP, "1:2026-12-07:heads-up")] and due[0].shift is next_monday
    assert [d for d in reminders_due(shifts, at(4, 8, 59, month=12)) if d.kind == HEADS_UP and d.shift is next_monday] == []


def test_working_time_counts_only_inside_shifts_and_overlaps_once():
    shifts = week()
    assert working_time(shifts, at(30, 16, 50), at(1, 9, 20, month=12)) == timedelta(minutes=30)
    assert working_time(shifts, at(30, 18), at(1, 8, month=12)) == timedelta()
    other = week(rotation_id=2, people=(7,))
    assert working_time(shifts + other, at(30, 8), at(30, 10)) == timedelta(hours=1)
    assert on_duty(shifts + other, at(30, 10)) == [1, 7] and on_duty(shifts, at(30, 18)) == []


def test_an_unclaimed_ticket_goes_to_duty_after_the_time_and_to_the_channel_after_twice_that():
    shifts, ticket = week(), [Waiting(5, at(30, 10))]
    assert escalations_due(ticket, [], shifts, at(30, 10, 29), 30) == []
    assert kinds(escalations_due(ticket, [], shifts, at(30, 10, 30), 30)) == [(TO_DUTY, "5:on-duty")]
    assert kinds(escalations_due(ticket, [], shifts, at(30, 11), 30)) == [(TO_DUTY, "5:on-duty"),
                                                                          (TO_CHANNEL, "5:channel")]


def test_outside_working_hours_the_clock_stops_and_goes_on_at_the_next_shift():
    shifts, evening = week(), [Waiting(5, at(30, 16, 50))]
    assert escalations_due(evening, [], shifts, at(30, 23), 30) == []  # ten working minutes so far
    assert escalations_due(evening, [], shifts, at(1, 9, 19, month=12), 30) == []
    assert kinds(escalations_due(evening, [], shifts, at(1, 9, 20, month=12), 30)) == [(TO_DUTY, "5:on-duty")]
    night = [Waiting(6, at(1, 2, month=12))]
    assert escalations_due(night, [], shifts, at(1, 9, 29, month=12), 30) == []
    assert kinds(escalations_due(night, [], shifts, at(1, 9, 30, month=12), 30)) == [(TO_DUTY, "6:on-duty")]
    assert escalations_due(night, [], [], at(3, 9, 30, month=12), 30) == []  # no rotation: no working hours


def test_a_claimed_ticket_unanswered_for_four_working_hours_nudges_its_claimer():
    shifts, waiting = week(), [Waiting(8, at(30, 15), claimer_id=4)]
    assert escalations_due([], waiting, shifts, at(1, 10, 59, month=12), 30) == []  # 2 h + 1 h 59
    due = escalations_due([], waiting, shifts, at(1, 11, month=12), 30)
    assert kinds(due) == [(NUDGE, "8:nudge:4")] and due[0].person_id == 4
