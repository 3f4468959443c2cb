"""Who is on duty which day: pure computation from a rotation's rows, no database, no clock.

The order is a queue of turns. Each working day that is not skipped, the first person in the queue
who is not away takes the day and goes to the back. So:

- a skipped day (company holiday) does not move the queue: the person whose day it was is on duty
  the next working day, and nobody loses a turn;
- a person away keeps their place at the front: the next in order takes the day (their own turn,
  early) and goes to the back; back from leave, the person takes the first day. Over a cycle each
  person is on duty exactly once, away or not: nobody loses or doubles a turn;
- cover and swap change who is on duty on one day, never the queue: the person covered for has had
  their turn (a favour); a swap gives each of the two one day of the other's;
- a new hire onboarding is on duty alongside the regular person for N shifts, then joins at the end;
- a person added joins the queue at its end (or right after a named person); removed, they leave it.

Times are local wall-clock + an IANA zone: a day's start is computed for that date in that zone,
so 09:00 stays 09:00 across DST changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_days(text: str) -> frozenset[int]:
    """"mon-fri", "mon,wed,fri", "sun-thu" → weekday numbers (Monday 0). ValueError if not understood."""
    result: set[int] = set()
    for part in text.lower().split(","):
        ends = part.strip().split("-")
        if len(ends) > 2 or any(e[:3] not in WEEKDAYS or len(e) < 3 for e in ends):
            raise ValueError(f"“{text}” is not a list of days (e.g. mon-fri or mon,wed,fri)")
        first, last = WEEKDAYS.index(ends[0][:3]), WEEKDAYS.index(ends[-1][:3])
        i = first
        while True:  # a range may wrap round the week: sun-thu
            result.add(i)
            if i == last:
                break
            i = (i + 1) % 7
    return frozenset(result)


def days_text(days: frozenset[int]) -> str:
    return ",".join(WEEKDAYS[i] for i in sorted(days))


def parse_time(text: str) -> time:
    """"09:00", "9:30", "17" → a time. ValueError if not understood."""
    hours, _, minutes = text.partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()):
        raise ValueError(f"“{text}” is not a time (e.g. 09:00)")
    return time(int(hours), int(minutes or 0))


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on ``day`` in ``zone``, as an aware UTC datetime (a time skipped by a DST change comes
    out as the same wall-clock reading an hour later, as zoneinfo folds it)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)


@dataclass(frozen=True)
class Member:
    id: int
    person_id: int
    joined_on: date
    after_person_id: int | None = None
    left_on: date | None = None


@dataclass(frozen=True)
class DayOverride:
    kind: str  # "skip", "cover", "swap"
    person_id: int | None = None  # on duty instead (None: skip, or a cover nobody took yet)
    replaces_id: int | None = None


@dataclass(frozen=True)
class Onboarding:
    person_id: int
    first_day: date
    days: int
    buddy_id: int | None = None


@dataclass(frozen=True)
class Plan:
    """A rotation's rows as plain data."""

    days: frozenset[int]
    start_day: date
    members: tuple[Member, ...]
    overrides: dict[date, DayOverride] = field(default_factory=dict)
    away: tuple[tuple[int, date, date], ...] = ()  # (person id, first day, last day)
    onboardings: tuple[Onboarding, ...] = ()


@dataclass(frozen=True)
class Duty:
    day: date
    person_ids: tuple[int, ...]  # on duty: the regular (or who covers), then a new hire onboarding
    regular_id: int  # whom the order gave the day to, before cover or swap
    buddy_id: int | None = None


def _is_away(plan: Plan, person_id: int, day: date) -> bool:
    return any(p == person_id and first <= day <= last for p, first, last in plan.away)


def _join(queue: list[int], member: Member) -> None:
    if member.person_id in queue:
        return
    if member.after_person_id in queue:
        queue.insert(queue.index(member.after_person_id) + 1, member.person_id)
    else:
        queue.append(member.person_id)


class _Run:
    """The queue walked day by day from the rotation's first day."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.queue: list[int] = []
        self.joined: set[int] = set()  # member row ids applied
        self.left: set[int] = set()
        self.onboarding_left = {o.person_id: o.days for o in plan.onboardings}

    def _members_on(self, day: date) -> None:
        for m in self.plan.members:
            if m.left_on is not None and m.left_on <= day:
                if m.id not in self.left:
                    self.left.add(m.id)
                    if m.person_id in self.queue:
                        self.queue.remove(m.person_id)
                continue
            # a new hire joins once their onboarding is over (see _onboard)
            if m.joined_on <= day and m.id not in self.joined and self.onboarding_left.get(m.person_id, 0) <= 0:
                self.joined.add(m.id)
                _join(self.queue, m)

    def _onboard(self, day: date) -> tuple[list[int], int | None]:
        hires, buddy = [], None
        for o in self.plan.onboardings:
            if o.first_day <= day and self.onboarding_left[o.person_id] > 0 and not _is_away(self.plan, o.person_id, day):
                hires.append(o.person_id)
                buddy = buddy or o.buddy_id
                self.onboarding_left[o.person_id] -= 1
        return hires, buddy

    def day(self, day: date) -> Duty | None:
        self._members_on(day)
        if day < self.plan.start_day or day.weekday() not in self.plan.days:
            return None
        override = self.plan.overrides.get(day)
        if override is not None and override.kind == "skip":
            return None
        regular = next((p for p in self.queue if not _is_away(self.plan, p, day)), None)
        if regular is None:
            return None  # nobody in the order is here: nobody's turn passes
        self.queue.remove(regular)
        self.queue.append(regular)
        on_duty = override.person_id if override is not None and override.person_id is not None else regular
        hires, buddy = self._onboard(day)
        return Duty(day, (on_duty, *[h for h in hires if h != on_duty]), regular, buddy)


def duties(plan: Plan, until: date) -> Iterator[Duty]:
    """Every shift from the rotation's first day to ``until`` (inclusive), in order."""
    run = _Run(plan)
    day = plan.start_day
    while day <= until:
        duty = run.day(day)
        if duty is not None:
            yield duty
        day += timedelta(days=1)


def queue_before(plan: Plan, day: date) -> list[int]:
    """The order of the next turns as ``day`` begins (who is next first)."""
    run = _Run(plan)
    d = plan.start_day
    while d < day:
        run.day(d)
        d += timedelta(days=1)
    run._members_on(max(day, plan.start_day))
    return list(run.queue)
