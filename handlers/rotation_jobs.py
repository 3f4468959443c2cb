"""What the support rotations make Pitchin do by the clock: reminders, heads-ups, the user group
that follows whoever is on duty, and escalation of tickets nobody takes. Each is sent once.

One scheduler job (bot/scheduler.py, every ROUND_SECONDS on the leader) calls ``tick``. It reads
the shifts around now from the rotation tables (handlers.rotations.shifts_between: edits count at
once) and the tickets that wait, works out what is due (pure functions, below), and sends each due
thing in a transaction of its own with ``run_once``: its key (rotation, day, kind / ticket, step)
is recorded with its outbox posts, so a restart, a second worker or a clock jump never sends it
twice, and nothing due is skipped: a reminder missed while no process ran goes out as soon as one
does, while its shift still runs.

Times: a shift's start and end are aware UTC moments (the rotation's wall-clock time, DST-correct);
working time is time inside the shifts of any rotation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from sqlalchemy import exists, or_, select, tuple_

from handlers import rotation_posts
from handlers.context import Context
from handlers.rotations import shifts_between
from handlers.scheduled import run_once
from storage.models import ScheduledRun, Ticket, TicketMessage

log = logging.getLogger("pitchin.rotations")

ROUND_SECONDS = 15  # how often the scheduler looks for something due (a round is a few small reads)
LOOK_BACK = timedelta(days=7)  # a ticket's working time is counted this far back; older tickets are not escalated
LOOK_AHEAD = timedelta(days=4)  # far enough to find Monday's heads-up time in Friday's shift
HEADS_UP_SEARCH = timedelta(days=4)  # the working day before a shift is at most this far before it
NUDGE_AFTER = timedelta(hours=4)  # working time a claimed ticket may wait for an answer before its claimer is nudged

# run_once job names; their keys say what exactly ran
REMINDER = "reminder"  # key "<rotation id>:<local date>:<kind>"
ESCALATION = "escalation"  # key "<ticket id>:<step>"

# reminder kinds
ON_DUTY = "on-duty"  # a DM to each person on duty, at the shift's start
CHANNEL = "channel"  # "Today on support: …" in the rotation's channel
USERGROUP = "usergroup"  # the Slack user group set to whoever is on duty
HEADS_UP = "heads-up"  # a DM the working day before
# escalation steps
TO_DUTY = "on-duty"  # unclaimed for the escalation time: DM to the person on duty, with Claim
TO_CHANNEL = "channel"  # unclaimed for twice that: the support channel is told
NUDGE = "nudge"  # claimed, no answer to the customer for NUDGE_AFTER: the claimer is nudged ("nudge:<person>")


@dataclass(frozen=True)
class Due:
    """One thing to send now, unless its key has been recorded."""

    job: str
    key: str
    kind: str
    shift: object = None  # the Shift a reminder is about
    ticket_id: int | None = None  # the ticket an escalation is about
    person_id: int | None = None  # the claimer a nudge goes to


@dataclass(frozen=True)
class Waiting:
    """A ticket as escalation sees it: waiting since ``since`` (for a claim, or for an answer)."""

    ticket_id: int
    since: datetime
    claimer_id: int | None = None


# ---------------------------------------------------------------- what is due (pure)


def reminder_key(shift, kind: str) -> str:
    return f"{shift.rotation_id}:{shift.day.isoformat()}:{kind}"


def heads_up_at(shift, shifts: Iterable) -> datetime:
    """When the heads-up for ``shift`` is due: at the start of the rotation's shift on the working
    day before (Friday's for a Monday), or a day before it when there was none lately."""
    earlier = [s.start for s in shifts if s.rotation_id == shift.rotation_id and s.day < shift.day
               and s.start > shift.start - HEADS_UP_SEARCH]
    return max(earlier, default=shift.start - timedelta(days=1))


def reminders_due(shifts: list, now: datetime) -> list[Due]:
    """At a shift's start (and while it runs, should the moment have been missed): the DM to those on
    duty, the channel post and the user group; before it, from its heads-up time: the heads-up."""
    due = []
    for shift in shifts:
        if shift.start <= now < shift.end:
            kinds = [ON_DUTY] + ([CHANNEL] if shift.channel else []) + ([USERGROUP] if shift.usergroup else [])
            due += [Due(REMINDER, reminder_key(shift, kind), kind, shift=shift) for kind in kinds]
        elif now < shift.start and heads_up_at(shift, shifts) <= now:
            due.append(Due(REMINDER, reminder_key(shift, HEADS_UP), HEADS_UP, shift=shift))
    return due


def working_time(shifts: Iterable, since: datetime, until: datetime) -> timedelta:
    """Time between ``since`` and ``until`` inside any shift (overlapping shifts count once)."""
    spans = sorted((max(s.start, since), min(s.end, until)) for s in shifts if s.end > since and s.start < until)
    total, reached = timedelta(), since
    for start, end in spans:
        start = max(start, reached)
        if end > start:
            total += end - start
            reached = end
    return total


def on_duty(shifts: Iterable, now: datetime) -> list[int]:
    """Everyone on duty at ``now``, in every rotation, each once."""
    people: list[int] = []
    for s in shifts:
        if s.start <= now < s.end:
            people += [p for p in s.person_ids if p not in people]
    return people


def escalations_due(unclaimed: Iterable[Waiting], unanswered: Iterable[Waiting], shifts: list, now: datetime,
                    minutes: float) -> list[Due]:
    """Unclaimed for ``minutes`` of working time: to the person on duty (when someone is: else it
    waits for the next shift); for twice that: to the support channel. Claimed and unanswered for
    NUDGE_AFTER of working time: the claimer is nudged."""
    after = timedelta(minutes=minutes)
    due = []
    someone_on_duty = bool(on_duty(shifts, now))
    for t in unclaimed:
        waited = working_time(shifts, t.since, now)
        if waited >= after and someone_on_duty:
            due.append(Due(ESCALATION, f"{t.ticket_id}:{TO_DUTY}", TO_DUTY, ticket_id=t.ticket_id))
        if waited >= 2 * after:
            due.append(Due(ESCALATION, f"{t.ticket_id}:{TO_CHANNEL}", TO_CHANNEL, ticket_id=t.ticket_id))
    for t in unanswered:
        if working_time(shifts, t.since, now) >= NUDGE_AFTER:
            due.append(Due(ESCALATION, f"{t.ticket_id}:{NUDGE}:{t.claimer_id}", NUDGE, ticket_id=t.ticket_id,
                           person_id=t.claimer_id))
    return due


# ---------------------------------------------------------------- tickets that wait


def _utc(moment: datetime) -> datetime:
    """Databases give back naive UTC times (SQLite, PostgreSQL's timestamp without time zone)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def unclaimed_since(session, since: datetime) -> list:
    """Open tickets nobody has claimed, opened after ``since``, waiting since they were opened."""
    rows = session.execute(select(Ticket.id, Ticket.created_at).where(
        Ticket.status == "open", Ticket.claimed_by_id.is_(None), Ticket.created_at >= since).order_by(Ticket.id))
    return [Waiting(ticket_id, _utc(created)) for ticket_id, created in rows]


def unanswered_since(session, since: datetime) -> list:
    """Claimed open tickets whose customer wrote after ``since`` and has had no reply since (a reply
    taken back does not count), waiting since the customer's last message."""
    answered = exists().where(TicketMessage.ticket_id == Ticket.id, TicketMessage.kind == "reply",
                              TicketMessage.created_at >= Ticket.last_customer_at,
                              or_(TicketMessage.delivery_state.is_(None), TicketMessage.delivery_state != "cancelled"))
    rows = session.execute(select(Ticket.id, Ticket.last_customer_at, Ticket.claimed_by_id).where(
        Ticket.status == "open", Ticket.claimed_by_id.is_not(None), Ticket.last_customer_at >= since, ~answered)
        .order_by(Ticket.id))
    return [Waiting(ticket_id, _utc(last), claimer) for ticket_id, last, claimer in rows]



# ---------------------------------------------------------------- sending what is due, once


def _recorded(session, due: list[Due]) -> set[tuple[str, str]]:
    """The (job, key) pairs of ``due`` that have run: one query instead of one attempt each."""
    if not due:
        return set()
    pairs = [(d.job, d.key) for d in due]
    rows = session.execute(select(ScheduledRun.job, ScheduledRun.period_key)
                           .where(tuple_(ScheduledRun.job, ScheduledRun.period_key).in_(pairs))).all()
    return {(job, key) for job, key in rows}


def tick(ctx: Context, owner: str = "") -> int:
    """Send whatever is due now and has not been sent; the number sent. Blocking (a worker thread)."""
    now = ctx.now()
    with ctx.db.transaction(read_only=True) as session:
        shifts = shifts_between(session, now - LOOK_BACK, now + LOOK_AHEAD)
        unclaimed = unclaimed_since(session, now - LOOK_BACK)
        unanswered = unanswered_since(session, now - LOOK_BACK)
        due = reminders_due(shifts, now) + escalations_due(unclaimed, unanswered, shifts, now, ctx.escalate_minutes)
        done = _recorded(session, due)
    sent = 0
    for item in due:
        if (item.job, item.key) in done:
            continue
        try:
            if run_once(ctx, item.job, item.key, lambda session, item=item: _send(ctx, session, item, shifts, now),
                        owner):
                sent += 1
                log.info("rotation %s %s sent", item.job, item.key)
        except Exception:  # one broken item must not hold back the others; it is tried again next round
            log.exception("rotation %s %s could not be sent; trying again in %s s", item.job, item.key,
                          ROUND_SECONDS)
    return sent


# (job, kind) → how it is sent
SENDERS: dict[tuple[str, str], Callable[[Context, object, Due, list, datetime], None]] = {
    (REMINDER, ON_DUTY): lambda ctx, session, d, shifts, now: rotation_posts.on_duty_reminder(ctx, session, d.shift),
    (REMINDER, CHANNEL): lambda ctx, session, d, shifts, now: rotation_posts.today_on_support(ctx, session, d.shift),
    (REMINDER, USERGROUP): lambda ctx, session, d, shifts, now: rotation_posts.follow_duty(ctx, session, d.shift),
    (REMINDER, HEADS_UP): lambda ctx, session, d, shifts, now: rotation_posts.heads_up(ctx, session, d.shift),
    (ESCALATION, TO_DUTY): lambda ctx, session, d, shifts, now: rotation_posts.to_person_on_duty(
        ctx, session, d.ticket_id, on_duty(shifts, now)),
    (ESCALATION, TO_CHANNEL): lambda ctx, session, d, shifts, now: rotation_posts.to_support_channel(
        ctx, session, d.ticket_id),
    (ESCALATION, NUDGE): lambda ctx, session, d, shifts, now: rotation_posts.nudge(
        ctx, session, d.ticket_id, d.person_id, NUDGE_AFTER.total_seconds() / 3600),
}


def _send(ctx: Context, session, item: Due, shifts: list, now: datetime) -> None:
    SENDERS[(item.job, item.kind)](ctx, session, item, shifts, now)
