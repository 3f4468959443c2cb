"""Support rotations: who is on duty when (the shift API reminders and escalation read), and the
`rotation …` and `who` commands. The order itself is computed in handlers/rotation_schedule.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers import rotation_schedule as schedule
from storage.models import Rotation, RotationAway, RotationMember, RotationOnboarding, RotationOverride


@dataclass(frozen=True)
class Shift:
    rotation_id: int
    rotation: str  # the rotation's name
    day: date  # the local date, in the rotation's zone
    start: datetime  # aware, UTC: the day's `at` time in the rotation's zone (DST-correct)
    end: datetime  # aware, UTC: the shift's end (default 17:00 local, or `until`)
    person_ids: tuple[int, ...]  # on duty: the regular person first, then a new hire onboarding, if any
    buddy_id: int | None  # the onboarding buddy (named in reminders), if any
    channel: tuple[str, str] | None  # (platform, channel id) where the rotation posts, if set
    usergroup: str | None  # Slack user group id that follows whoever is on duty, if set


def zone_of(rotation: Rotation) -> ZoneInfo:
    return ZoneInfo(rotation.tz)


def plan_of(session, rotation: Rotation) -> schedule.Plan:
    """A rotation's rows, read in the caller's session, as the plain data the schedule walks."""
    members = session.execute(select(RotationMember).where(RotationMember.rotation_id == rotation.id)
                              .order_by(RotationMember.id)).scalars().all()
    people = {m.person_id for m in members}
    overrides = session.execute(select(RotationOverride).where(RotationOverride.rotation_id == rotation.id)).scalars()
    onboardings = session.execute(select(RotationOnboarding).where(RotationOnboarding.rotation_id == rotation.id)
                                  .order_by(RotationOnboarding.id)).scalars().all()
    people |= {o.person_id for o in onboardings}
    away = session.execute(select(RotationAway).where(RotationAway.person_id.in_(people))
                           .order_by(RotationAway.id)).scalars() if people else []
    return schedule.Plan(
        days=schedule.parse_days(rotation.days),
        start_day=rotation.start_day,
        members=tuple(schedule.Member(m.id, m.person_id, m.joined_on, m.after_person_id, m.left_on) for m in members),
        overrides={o.day: schedule.DayOverride(o.kind, o.person_id, o.replaces_id) for o in overrides},
        away=tuple((a.person_id, a.first_day, a.last_day) for a in away),
        onboardings=tuple(schedule.Onboarding(o.person_id, o.first_day, o.days, o.buddy_id) for o in onboardings),
    )


def shift_of(rotation: Rotation, duty: schedule.Duty) -> Shift:
    zone = zone_of(rotation)
    at, until = schedule.parse_time(rotation.at_time), schedule.parse_time(rotation.until_time)
    end_day = duty.day + timedelta(days=1) if until <= at else duty.day  # a shift past midnight
    channel = (rotation.channel_platform, rotation.channel_id) if rotation.channel_id else None
    return Shift(rotation.id, rotation.name, duty.day, schedule.local_moment(duty.day, at, zone),
                 schedule.local_moment(end_day, until, zone), duty.person_ids, duty.buddy_id, channel,
                 rotation.usergroup)


def rotation_shifts(session, rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
    last_day = end.astimezone(zone_of(rotation)).date()
    shifts = (shift_of(rotation, d) for d in schedule.duties(plan_of(session, rotation), last_day))
    return [s for s in shifts if s.start < end and s.end > start]


def shifts_between(session, start: datetime, end: datetime, rotation_id: int | None = None) -> list[Shift]:
    """Every shift (of every rotation, or one) overlapping [start, end), in time order, with overrides
    (cover, swap), skips, leave (away) and onboarding applied. Pure reads; no side effects."""
    query = select(Rotation).order_by(Rotation.id)
    if rotation_id is not None:
        query = query.where(Rotation.id == rotation_id)
    shifts = [s for r in session.execute(query).scalars() for s in rotation_shifts(session, r, start, end)]
    return sorted(shifts, key=lambda s: (s.start, s.rotation_id))
