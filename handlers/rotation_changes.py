"""The `rotation …` commands that change a schedule: add, remove, cover (and its **Take it**
button), swap, away, skip, onboard, usergroup. Each tells by DM, in its own transaction, everyone
whose next shift it moved."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from handlers import outbound, rotation_schedule as schedule, rotation_words as words
from handlers.base import Actor, Button, Card, Named, Reply, Usage
from handlers.context import Context
from handlers.rotation_shifts import (HORIZON, asker_zone, by_name, current_member, first_open_day, local_today,
                                      members_of, mine, moved_words, named_or_only, names_of, next_days, now_utc,
                                      on_duty, rotation_shifts, rotations_of, set_override, tell_moved)
from handlers.rotation_words import USAGE
from storage import repos
from storage.models import Rotation, RotationAway, RotationMember, RotationOnboarding, RotationOverride


def add(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["add"]
    if len(args) not in (2, 4) or (len(args) == 4 and args[2].lower() != "after"):
        raise Usage("Give the rotation's name and one person (and, if you like, after whom).", usage)
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        rotation = by_name(session, args[0], usage)
        pid = words.person_id(session, args[1], named, usage)
        after = words.person_id(session, args[3], named, usage) if len(args) == 4 else None
        if current_member(session, rotation, pid) is not None:
            raise Usage(f"{names_of(session, [pid])[pid]} is in the {rotation.name} rotation already.", usage)
        if after is not None and current_member(session, rotation, after) is None:
            raise Usage(f"{names_of(session, [after])[after]} is not in the {rotation.name} rotation.", usage)
        before = next_days(session, rotation, now)
        session.add(RotationMember(rotation_id=rotation.id, person_id=pid, joined_on=first_open_day(rotation, now),
                                   after_person_id=after))
        moved = tell_moved(ctx, session, rotation, before, now)
        name = names_of(session, [pid])[pid]
        return Reply(f"{name} is in the {rotation.name} rotation now." + moved_words(session, moved))


def remove(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["remove"]
    if len(args) != 2:
        raise Usage("Give the rotation's name and one person.", usage)
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        rotation = by_name(session, args[0], usage)
        pid = words.person_id(session, args[1], named, usage)
        member = current_member(session, rotation, pid)
        if member is None:
            raise Usage(f"{names_of(session, [pid])[pid]} is not in the {rotation.name} rotation.", usage)
        before = next_days(session, rotation, now)
        member.left_on = max(first_open_day(rotation, now), member.joined_on)
        session.add(member)
        moved = tell_moved(ctx, session, rotation, before, now)
        name = names_of(session, [pid])[pid]
        return Reply(f"{name} is out of the {rotation.name} rotation." + moved_words(session, moved))


def cover(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["cover"]
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        me = repos.person_for(session, actor).id
        if len(args) == 2:
            rotation, rest = by_name(session, args[1], usage), args[:1]
        elif len(args) == 1:
            rotation, rest = mine(session, me, usage), args
        else:
            raise Usage("Give the date you need cover for.", usage)
        day = words.day(rest[0], local_today(rotation, now), usage)
        shift = on_duty(session, rotation, day)
        if shift is None or shift.person_ids[0] != me:
            raise Usage(f"You are not on duty on {words.shown(day)} in the {rotation.name} rotation.", usage)
        if shift.start <= now:
            raise Usage("That shift has started: ask a colleague directly.", usage)
        # open while nobody took it: the asker stays on duty (also on a day they have by a swap)
        row = set_override(session, rotation, day, kind="cover", person_id=me, replaces_id=me, created_by_id=me)
        name = names_of(session, [me])[me]
        text = f"{name} needs cover for {words.shown(day)} ({rotation.name}, {rotation.at_time}–{rotation.until_time} {rotation.tz})"
        card = Card(title=f"{name} needs cover for {words.shown(day)}", body=f"{rotation.name} rotation, "
                    f"{rotation.at_time}–{rotation.until_time} {rotation.tz}. The first to click takes the shift.",
                    actions=(Button("Take it", TAKE, str(row.id), style="primary"),))
        if rotation.channel_id:
            outbound.post_to_channel(ctx, session, rotation.channel_platform, rotation.channel_id, text, card)
            where = "the rotation's channel"
        else:  # no channel: everyone else in the order is asked
            others = [p for p in members_of(session, rotation) if p != me]
            for pid in others:
                outbound.post_to_person(ctx, session, pid, text, card)
            where = "everyone else in the rotation, by DM"
        return Reply(f"Asked {where} to cover your shift on {words.shown(day)}. You stay on duty until someone takes it.")


TAKE = "rotation.take"


def take(ctx: Context, actor: Actor, override_id: int) -> Reply:
    """The **Take it** button: the first click wins (a conditional UPDATE, like a ticket's claim)."""
    with ctx.db.transaction() as session:
        me = repos.person_for(session, actor).id
        row = session.get(RotationOverride, override_id)
        if row is None or row.kind != "cover":
            return Reply("That request for cover is gone (the day was skipped or swapped since).", ok=False)
        if row.replaces_id == me:
            return Reply("That is your own shift: someone else has to take it.", ok=False)
        rotation = session.get(Rotation, row.rotation_id)
        if row.day < local_today(rotation, now_utc(ctx)):
            return Reply(f"{words.shown(row.day)} is over: there is nothing left to take.", ok=False)
        won = session.execute(update(RotationOverride).where(
            RotationOverride.id == override_id, RotationOverride.kind == "cover",
            RotationOverride.person_id == RotationOverride.replaces_id).values(person_id=me)).rowcount == 1
        session.refresh(row)
        names = names_of(session, [me, row.replaces_id, row.person_id])
        if not won:
            return Reply(f"{names.get(row.person_id, 'Someone')} took it already: {words.shown(row.day)} is covered.",
                         ok=False)
        outbound.post_to_person(ctx, session, row.replaces_id, f"{names[me]} takes your shift on "
                                f"{words.shown(row.day)} in the {rotation.name} rotation. You are off that day.")
        return Reply(f"You are on duty on {words.shown(row.day)} ({rotation.name}, {rotation.at_time}–"
                     f"{rotation.until_time} {rotation.tz}) instead of {names.get(row.replaces_id, '?')}. Thank you!")


def swap(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["swap"]
    if len(args) != 3:
        raise Usage("Give two people and the date of one of their shifts.", usage)
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        a = words.person_id(session, args[0], named, usage)
        b = words.person_id(session, args[1], named, usage)
        if a == b:
            raise Usage("Name two different people.", usage)
        me = repos.person_for(session, actor).id
        found = None
        for rotation in session.execute(select(Rotation).order_by(Rotation.id)).scalars():
            day = words.day(args[2], local_today(rotation, now), usage)
            shift = on_duty(session, rotation, day)
            if shift is not None and shift.person_ids[0] in (a, b):
                found = rotation, day, shift
                break
        if found is None:
            raise Usage(f"Neither is on duty on {args[2]}.", usage)
        rotation, day, shift = found
        if me not in (a, b, rotation.created_by_id):
            raise Usage(f"Only the two of them or the rotation's admin (who created {rotation.name}) can swap.", usage)
        if shift.start <= now:
            raise Usage("That shift has started already.", usage)
        giver = shift.person_ids[0]
        taker = b if giver == a else a
        later = next((s for s in rotation_shifts(session, rotation, shift.end, shift.end + HORIZON)
                      if s.person_ids[0] == taker), None)
        if later is None:
            raise Usage("The other person has no shift ahead to trade.", usage)
        set_override(session, rotation, day, kind="swap", person_id=taker, replaces_id=giver, created_by_id=me)
        set_override(session, rotation, later.day, kind="swap", person_id=giver, replaces_id=taker, created_by_id=me)
        names = names_of(session, [giver, taker])
        for pid, gets, gives in ((taker, day, later.day), (giver, later.day, day)):
            outbound.post_to_person(ctx, session, pid, f"Swapped in the {rotation.name} rotation: you are on duty on "
                                    f"{words.shown(gets)} instead of {words.shown(gives)}.")
        return Reply(f"Swapped: {names[taker]} is on duty on {words.shown(day)}, {names[giver]} on "
                     f"{words.shown(later.day)}. Both are told.")


def away(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["away"]
    if len(args) not in (2, 3):
        raise Usage("Give the person and the first day away (and the last, if not the same).", usage)
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        pid = words.person_id(session, args[0], named, usage)
        today = now.astimezone(asker_zone(actor)).date()
        first = words.day(args[1], today, usage)
        last = words.day(args[2], today, usage) if len(args) == 3 else first
        if last < first:
            raise Usage(f"{words.shown(last)} is before {words.shown(first)}.", usage)
        rotations = rotations_of(session, {pid})
        if not rotations:
            raise Usage(f"{names_of(session, [pid])[pid]} is in no rotation.", usage)
        before = {r.id: next_days(session, r, now) for r in rotations}
        session.add(RotationAway(person_id=pid, first_day=first, last_day=last,
                                 created_by_id=repos.person_for(session, actor).id))
        moved = [p for r in rotations for p in tell_moved(ctx, session, r, before[r.id], now)]
        span = words.shown(first) if first == last else f"{words.shown(first)} to {words.shown(last)}"
        return Reply(f"{names_of(session, [pid])[pid]} is away {span}: their shifts go to the next in order, "
                     "and they keep their turn." + moved_words(session, sorted(set(moved))))


def skip(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["skip"]
    if len(args) not in (1, 2):
        raise Usage("Give the date to skip (and the rotation, if not all of them).", usage)
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        rotations = ([by_name(session, args[1], usage)] if len(args) == 2
                     else session.execute(select(Rotation).order_by(Rotation.id)).scalars().all())
        if not rotations:
            raise Usage("There is no rotation yet.", USAGE["create"])
        me = repos.person_for(session, actor).id
        moved, day = [], None
        for rotation in rotations:
            day = words.day(args[0], local_today(rotation, now), usage)
            shift = on_duty(session, rotation, day)
            if shift is not None and shift.start <= now:
                raise Usage(f"The {rotation.name} shift of {words.shown(day)} has started already.", usage)
            before = next_days(session, rotation, now)
            set_override(session, rotation, day, kind="skip", created_by_id=me)
            moved += tell_moved(ctx, session, rotation, before, now)
        which = rotations[0].name if len(rotations) == 1 else "every rotation"
        return Reply(f"No shift on {words.shown(day)} in {which}; nobody loses a turn." +
                     moved_words(session, sorted(set(moved))))


def onboard(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["onboard"]
    now = now_utc(ctx)
    with ctx.db.transaction() as session:
        rotation, rest = named_or_only(session, args, usage)
        head, opts = words.options(rest, ("buddy",), usage)
        if not head:
            raise Usage("Name the new hire.", usage)
        hire = words.person_id(session, head[0], named, usage)
        count = 10
        if len(head) == 3 and head[1].isdigit() and head[2].lower() in ("day", "days") and 0 < int(head[1]) <= 60:
            count = int(head[1])
        elif len(head) != 1:
            raise Usage("After the new hire: how many working days (e.g. 10 days, at most 60), and a buddy.", usage)
        buddy = words.person_id(session, opts["buddy"], named, usage) if "buddy" in opts else None
        if current_member(session, rotation, hire) is not None:
            raise Usage(f"{names_of(session, [hire])[hire]} is in the {rotation.name} rotation already.", usage)
        days = schedule.parse_days(rotation.days)
        first = local_today(rotation, now) + timedelta(days=1)
        while first.weekday() not in days:
            first += timedelta(days=1)
        before = next_days(session, rotation, now)
        me = repos.person_for(session, actor).id
        session.add(RotationOnboarding(rotation_id=rotation.id, person_id=hire, buddy_id=buddy, first_day=first,
                                       days=count, created_by_id=me))
        session.add(RotationMember(rotation_id=rotation.id, person_id=hire, joined_on=first))
        moved = tell_moved(ctx, session, rotation, before, now)
        names = names_of(session, [hire, buddy])
        with_buddy = f", with {names[buddy]} as buddy" if buddy else ""
        return Reply(f"{names[hire]} is on duty alongside the regular person for {count} working days from "
                     f"{words.shown(first)}{with_buddy}, then joins the {rotation.name} order at the end."
                     + moved_words(session, [p for p in moved if p != hire]))


def usergroup(ctx: Context, actor: Actor, args: list[str], named: Named) -> Reply:
    usage = USAGE["usergroup"]
    if len(args) != 2:
        raise Usage("Give the rotation's name and the user group.", usage)
    group = words.token(args[1], "group", named)
    if group is None:
        raise Usage(f"“{args[1]}” is not a user group: mention a Slack user group (@support-today).", usage)
    with ctx.db.transaction() as session:
        rotation = by_name(session, args[0], usage)
        rotation.usergroup = group
        rotation.channel_platform = rotation.channel_platform or actor.platform
        session.add(rotation)
        return Reply(f"The user group {args[1]} follows whoever is on duty in the {rotation.name} rotation.")
