"""Support rotations: the `rotation …` and `who` commands, and the shift API that reminders and
escalation read (``Shift``, ``shifts_between``).

The order is computed in handlers/rotation_schedule.py (pure), the tables are read as shifts in
handlers/rotation_shifts.py, the commands that change a schedule are in
handlers/rotation_changes.py; this module creates and shows rotations and routes the sub-commands."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from zoneinfo import ZoneInfo

from handlers import rotation_changes as changes, rotation_schedule as schedule, rotation_words as words
from handlers.base import Actor, Named, Reply, Usage
from handlers.context import Context
from handlers.rotation_changes import TAKE, take  # noqa: F401  (the Take it button, in the registry)
from handlers.rotation_shifts import (HORIZON, Shift, asker_zone, by_name, first_open_day, local_today,  # noqa: F401
                                      names_of, now_utc, plan_of, rotation_shifts, shifts_between)
from handlers.rotation_words import ROTATION_USAGE, USAGE  # noqa: F401
from storage import repos
from storage.models import Rotation, RotationMember

SHOWN = 10  # shifts listed after today's


STATS_DAYS = 90


def _cadence(people: int, days: int) -> str:
    if people % days == 0:
        weeks = people // days
        return "one day every week" if weeks == 1 else f"one day every {weeks} weeks"
    return "every working day" if people == 1 else f"one day every {people} working days"


def create(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["create"]
    head, opts = words.options(args, ("days", "at", "until", "tz", "channel"), usage)
    if not head:
        raise Usage("Give the rotation a name.", usage)
    name, people = head[0], head[1:]
    if words.is_person(name) or not re.fullmatch(r"[\w.-]{1,40}", name) or name.lower() in USAGE:
        raise Usage(f"“{name}” cannot be a rotation's name: one word (letters, digits, - . _), then the people.", usage)
    if not people:
        raise Usage("A rotation needs people: name them after the rotation's name.", usage)
    try:
        days = schedule.parse_days(opts.get("days", "mon-fri"))
        at = schedule.parse_time(opts.get("at", "09:00"))
        until = schedule.parse_time(opts.get("until", "17:00"))
    except ValueError as exc:
        raise Usage(str(exc), usage) from None
    zone_said = opts.get("tz") or actor.tz
    zone = words.zone(zone_said or "UTC", usage)
    channel = _channel(opts.get("channel"), actor, named, usage) if "channel" in opts else None
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        if session.execute(select(Rotation.id).where(func.lower(Rotation.name) == name.lower())).first():
            raise Usage(f"There is already a rotation “{name}”: pick another name, or `rotation add {name} @x`.", usage)
        creator = repos.person_for(session, actor)  # first: the creator may name themselves, by name
        ids = [words.person_id(session, w, named, usage) for w in people]
        if len(set(ids)) != len(ids):
            raise Usage("Someone is named twice: each person is once in the order.", usage)
        rotation = Rotation(name=name, days=schedule.days_text(days), at_time=f"{at:%H:%M}",
                            until_time=f"{until:%H:%M}", tz=zone.key, start_day=date(2000, 1, 1),
                            channel_platform=channel and actor.platform, channel_id=channel,
                            created_by_id=creator.id)
        rotation.start_day = first_open_day(rotation, now)
        session.add(rotation)
        session.flush()
        for pid in ids:
            session.add(RotationMember(rotation_id=rotation.id, person_id=pid, joined_on=rotation.start_day))
        session.flush()
        shifts = rotation_shifts(session, rotation, now, now + HORIZON)[:min(len(ids), 5)]
        names = names_of(session, ids)
    first = ", ".join(f"{words.shown(s.day)} {names.get(s.person_ids[0], '?')}" for s in shifts)
    zone_note = "" if zone_said else " (no time zone given and none known for you: UTC; add tz Europe/Berlin to change)"
    return Reply(f"Rotation {name} created: {', '.join(names[p] for p in ids)}, {_days_words(days)} "
                 f"{at:%H:%M}–{until:%H:%M} {zone.key}{zone_note}. You are its admin.\n"
                 f"Each person is on duty {_cadence(len(ids), len(days))}; next: {first}, …")


def _days_words(days: frozenset[int]) -> str:
    """{0, 1, 2, 3, 4} → "Mon–Fri"; {0, 2, 4} → "Mon,Wed,Fri"."""
    runs: list[list[int]] = []
    for i in sorted(days):
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    name = lambda i: schedule.WEEKDAYS[i].capitalize()  # noqa: E731
    return ",".join(name(r[0]) if len(r) == 1 else f"{name(r[0])}–{name(r[-1])}" for r in runs)


def _channel(word: str | None, actor: Actor, named: Named, usage: str) -> str:
    """A channel the rotation posts in: a mention the door resolved, or "here"."""
    found = words.token(word, "channel", named)
    if found is not None:
        return found
    if word.lower() == "here" and named.here:
        return named.here
    raise Usage(f"“{word}” is not a channel: mention it (#support), or say “channel here”.", usage)


def show(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["show"]
    stats = "--stats" in [a.lower() for a in args]
    rest = [a for a in args if a.lower() != "--stats"]
    if len(rest) > 1:
        raise Usage("Give one rotation name at most.", usage)
    now = now_utc(ctx)
    with ctx.db.transaction(read_only=True) as session:
        if rest:
            rotations = [by_name(session, rest[0], usage)]
        else:
            rotations = session.execute(select(Rotation).order_by(Rotation.name)).scalars().all()
        if not rotations:
            return Reply(f"There is no rotation yet. Start one: {USAGE['create']}")
        blocks = [_stats(session, r, now) if stats else _schedule(session, r, now, actor) for r in rotations]
    return Reply("\n\n".join(blocks))


def who(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    if args:
        raise Usage("`who` takes no words; for one rotation: rotation show <name>.", "who")
    return show(ctx, actor, [], named)


def _schedule(session, rotation: Rotation, now: datetime, actor: Actor) -> str:
    where = asker_zone(actor, rotation)
    today = local_today(rotation, now)
    shifts = rotation_shifts(session, rotation, now - timedelta(days=1), now + HORIZON)
    todays = [s for s in shifts if s.day == today]
    coming = [s for s in shifts if s.day > today][:SHOWN]
    order = schedule.queue_before(plan_of(session, rotation), first_open_day(rotation, now))
    names = names_of(session, {*order, *(p for s in shifts[:SHOWN + 2] for p in (*s.person_ids, s.buddy_id) if p)})
    channel = f", posts in #{rotation.channel_id}" if rotation.channel_id else ""
    lines = [f"{rotation.name}: {_days_words(schedule.parse_days(rotation.days))} {rotation.at_time}–"
             f"{rotation.until_time} {rotation.tz}{channel}. Times below in {where.key}.",
             "Order from the next shift: " + (", ".join(names.get(p, "?") for p in order) or "nobody")]
    lines.append("Today: " + ("; ".join(_shift_line(s, names, where) for s in todays) if todays else "nobody on duty"))
    lines += [f"  {_shift_line(s, names, where)}" for s in coming]
    if not coming:
        lines.append("  No shifts ahead: the order is empty, or everyone is away.")
    return "\n".join(lines)


def _shift_line(s: Shift, names: dict[int, str], where: ZoneInfo) -> str:
    who = names.get(s.person_ids[0], "?")
    if len(s.person_ids) > 1:
        who += " with " + ", ".join(names.get(p, "?") for p in s.person_ids[1:])
        if s.buddy_id:
            who += f" (buddy {names.get(s.buddy_id, '?')})"
    return f"{words.shown_at(s.start, where)}–{s.end.astimezone(where):%H:%M} {who}"


def _stats(session, rotation: Rotation, now: datetime) -> str:
    shifts = rotation_shifts(session, rotation, now - timedelta(days=STATS_DAYS), now)
    regular = Counter(s.person_ids[0] for s in shifts)
    alongside = Counter(p for s in shifts for p in s.person_ids[1:])
    members = session.execute(select(RotationMember.person_id).where(RotationMember.rotation_id == rotation.id,
                                                                     RotationMember.left_on.is_(None))).scalars()
    ids = {*members, *regular, *alongside}
    names = names_of(session, ids)
    rows = sorted(ids, key=lambda p: (-regular[p], names.get(p, "")))
    lines = [f"{rotation.name}: shifts in the last {STATS_DAYS} days"]
    for pid in rows:
        extra = f" (+{alongside[pid]} onboarding)" if alongside[pid] else ""
        lines.append(f"  {names.get(pid, '?')}: {regular[pid]}{extra}")
    return "\n".join(lines)


SUBCOMMANDS = {"create": create, "show": show, "add": changes.add, "remove": changes.remove, "cover": changes.cover,
               "swap": changes.swap, "away": changes.away, "skip": changes.skip, "onboard": changes.onboard,
               "usergroup": changes.usergroup}


def run(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    """`rotation …`: alone, the schedules; else a sub-command (a typo gets the list, never a guess)."""
    if not args:
        return show(ctx, actor, [], named)
    verb = SUBCOMMANDS.get(args[0].lower())
    if verb is None:
        raise Usage(f"Pitchin does not know “rotation {args[0]}”.\n" + "\n".join(USAGE.values()), ROTATION_USAGE)
    return verb(ctx, actor, args[1:], named)
