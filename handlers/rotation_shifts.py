"""The rotation tables read as shifts: the shift API (``Shift``, ``shifts_between``, which
reminders and escalation read) and the lookups and writes the `rotation …` commands share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from handlers import outbound, rotation_schedule as schedule, rotation_words as words
from handlers.base import Actor, Usage
from handlers.context import Context
from handlers.rotation_words import USAGE
from storage import repos
from storage.models import Rotation, RotationAway, RotationMember, RotationOnboarding, RotationOverride

HORIZON = timedelta(days=120)  # how far ahead "next shift" looks: a cycle of 80 people on weekdays


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


# ---------------------------------------------------------------- shared by the commands


def now_utc(ctx: Context) -> datetime:
    return ctx.now().astimezone(timezone.utc)


def by_name(session, name: str, usage: str) -> Rotation:
    found = session.execute(select(Rotation).where(func.lower(Rotation.name) == name.lower())).scalars().first()
    if found is None:
        names = ", ".join(session.execute(select(Rotation.name).order_by(Rotation.name)).scalars()) or "none yet"
        raise Usage(f"There is no rotation “{name}” (rotations: {names}).", usage)
    return found


def named_or_only(session, words: list[str], usage: str) -> tuple[Rotation, list[str]]:
    """The rotation a word among ``words`` names, or the only one there is; and the other words."""
    rotations = session.execute(select(Rotation).order_by(Rotation.id)).scalars().all()
    by_name = {r.name.lower(): r for r in rotations}
    for i, word in enumerate(words):
        if word.lower() in by_name:
            return by_name[word.lower()], words[:i] + words[i + 1:]
    if len(rotations) == 1:
        return rotations[0], words
    if not rotations:
        raise Usage("There is no rotation yet.", USAGE["create"])
    raise Usage(f"Say which rotation: {', '.join(r.name for r in rotations)}.", usage)


def local_today(rotation: Rotation, now: datetime) -> date:
    return now.astimezone(zone_of(rotation)).date()


def first_open_day(rotation: Rotation, now: datetime) -> date:
    """Edits take effect from the first day whose shift has not started: a running shift stays."""
    today = local_today(rotation, now)
    start = schedule.local_moment(today, schedule.parse_time(rotation.at_time), zone_of(rotation))
    return today if now < start else today + timedelta(days=1)


def next_days(session, rotation: Rotation, now: datetime) -> dict[int, date]:
    """Each person's next day on duty (today's running shift included)."""
    found: dict[int, date] = {}
    for s in rotation_shifts(session, rotation, now, now + HORIZON):
        for pid in s.person_ids:
            found.setdefault(pid, s.day)
    return found


def tell_moved(ctx: Context, session, rotation: Rotation, before: dict[int, date], now: datetime) -> list[int]:
    """DM everyone whose next shift moved, with the old and the new date, in the caller's transaction."""
    session.flush()
    after = next_days(session, rotation, now)
    moved = []
    for pid in sorted(set(before) | set(after)):
        old, new = before.get(pid), after.get(pid)
        if old == new:
            continue
        if new is None:
            text = f"You are no longer on duty on {words.shown(old)} in the {rotation.name} rotation."
        elif old is None:
            text = f"Your next support day in the {rotation.name} rotation is {words.shown(new)}."
        else:
            text = (f"Your next support day in the {rotation.name} rotation moved from {words.shown(old)} "
                    f"to {words.shown(new)}.")
        outbound.post_to_person(ctx, session, pid, text)
        moved.append(pid)
    return moved


def names_of(session, ids) -> dict[int, str]:
    return {pid: ref.name for pid, ref in repos.person_refs(session, ids).items()}


def asker_zone(actor: Actor, rotation: Rotation | None = None) -> ZoneInfo:
    if actor.tz:
        try:
            return ZoneInfo(actor.tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return zone_of(rotation) if rotation is not None else ZoneInfo("UTC")


def current_member(session, rotation: Rotation, person_id: int) -> RotationMember | None:
    return session.execute(select(RotationMember).where(
        RotationMember.rotation_id == rotation.id, RotationMember.person_id == person_id,
        RotationMember.left_on.is_(None))).scalars().first()


def moved_words(session, moved: list[int]) -> str:
    if not moved:
        return " Nobody's next shift moved."
    names = names_of(session, moved)
    return " Told by DM that their next shift moved: " + ", ".join(names.get(p, "?") for p in moved) + "."


def on_duty(session, rotation: Rotation, day: date) -> Shift | None:
    start = schedule.local_moment(day, time(0), zone_of(rotation))
    return next((s for s in rotation_shifts(session, rotation, start, start + timedelta(days=2)) if s.day == day), None)


def set_override(session, rotation: Rotation, day: date, **values) -> RotationOverride:
    """The one override of a day (unique per rotation and day): a newer one replaces it."""
    old = session.execute(select(RotationOverride).where(RotationOverride.rotation_id == rotation.id,
                                                         RotationOverride.day == day)).scalars().first()
    if old is not None:
        session.delete(old)
        session.flush()
    row = RotationOverride(rotation_id=rotation.id, day=day, **values)
    session.add(row)
    session.flush()
    return row


def members_of(session, rotation: Rotation) -> list[int]:
    return list(session.execute(select(RotationMember.person_id).where(
        RotationMember.rotation_id == rotation.id, RotationMember.left_on.is_(None)).order_by(RotationMember.id)).scalars())


def mine(session, person_id: int, usage: str) -> Rotation:
    """The one rotation a person is in (several: they must name it)."""
    rotations = session.execute(select(Rotation).join(RotationMember, RotationMember.rotation_id == Rotation.id).where(
        RotationMember.person_id == person_id, RotationMember.left_on.is_(None)).distinct()).scalars().all()
    if len(rotations) == 1:
        return rotations[0]
    if not rotations:
        raise Usage("You are in no rotation.", usage)
    raise Usage(f"You are in several rotations: say which ({', '.join(r.name for r in rotations)}).", usage)


def rotations_of(session, person_ids: set[int]) -> list[Rotation]:
    return session.execute(select(Rotation).join(RotationMember, RotationMember.rotation_id == Rotation.id).where(
        RotationMember.person_id.in_(person_ids)).distinct().order_by(Rotation.id)).scalars().all()
