"""Sending the daily digest once a day: five random conversations answered the day before.

One scheduler job (bot/scheduler.py, every ROUND_SECONDS on the leader) calls ``tick``. The digest
is due from its time (``at`` in its zone) until the end of that local day, and is sent with
``run_once`` keyed by the local date: its outbox post commits with the record of the run, so a
restart, a second worker or a second round never sends it twice, and a digest missed while no
process ran goes out when one starts, the same local day (the next day brings the next day's).

"The day before" is the local calendar day before, in the digest's zone. A conversation is a ticket
with an employee's reply written that day that went, or is on its way, to the customer: a reply
taken back (cancelled) or given up on (failed) does not count, nor does an internal note. The five
are drawn with a generator seeded by the date and the channel, so a run that crashed halfway and
runs again picks the same five.
"""

from __future__ import annotations

import logging
import random
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from handlers import outbound, thread_links
from handlers.context import Context
from handlers.digest import DigestSetting, read_setting
from handlers.digest_text import Conversation, digest_card, first_name, plain_text, scrub
from handlers.scheduled import run_once
from storage import repos
from storage.models import ScheduledRun, Ticket, TicketMessage

log = logging.getLogger("pitchin.digest")

JOB = "digest"  # run_once job name; key: the local date the digest is for ("2027-01-05": about the 4th)
ROUND_SECONDS = 30  # how often the scheduler looks (a round is two small reads when nothing is due)
SHOWN = 5
# the delivery states of a reply that count as an answer: gone to the customer, or on its way
# (retried after a failure); not "cancelled" (undone) nor "failed" (Pitchin gave up)
ANSWERED_STATES = ("sent", "pending")


class _Gone(Exception):
    """The digest was turned off between the round's read and its run: nothing is recorded."""


# ---------------------------------------------------------------- when (pure)


def due_day(setting: DigestSetting, now: datetime) -> date | None:
    """The local date whose digest is due at ``now``: today from the digest's time until midnight
    (from its first day on), else None."""
    local = now.astimezone(setting.zone)
    if local.date().isoformat() < setting.first_day or local.time() < setting.at_time:
        return None
    return local.date()


def day_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local calendar day ``day`` as UTC moments [start, end) (23 or 25 hours across DST)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def pick(candidates: list[int], day: date, setting: DigestSetting, k: int = SHOWN) -> list[int]:
    """``k`` of ``candidates`` at random, the same ones for the same day and channel."""
    rng = random.Random(f"pitchin-digest:{day.isoformat()}:{setting.platform}:{setting.channel}")
    return sorted(rng.sample(sorted(candidates), min(k, len(candidates))))


# ---------------------------------------------------------------- what


def answered_between(session, start: datetime, end: datetime) -> dict[int, int]:
    """ticket id → its last reply written in [start, end) that counts as an answer."""
    rows = session.execute(
        select(TicketMessage.ticket_id, func.max(TicketMessage.id))
        .where(TicketMessage.kind == "reply", TicketMessage.delivery_state.in_(ANSWERED_STATES),
               TicketMessage.created_at >= start, TicketMessage.created_at < end)
        .group_by(TicketMessage.ticket_id))
    return {ticket_id: reply_id for ticket_id, reply_id in rows}


def conversation(session, ticket: Ticket, reply_id: int, link: str | None) -> Conversation | None:
    """The customer's question (their last message before the reply) and the answer (the replies
    that count from that question to this reply), without addresses."""
    messages = [m for m in repos.conversation(session, ticket.id) if m.id <= reply_id]
    asked = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].kind == "customer"), None)
    if asked is None:
        return None  # no customer message before it (none is kept): nothing to show as a question
    replies = [m for m in messages[asked + 1:] if m.kind == "reply" and m.delivery_state in ANSWERED_STATES]
    authors = [m.author_person_id for m in replies]
    employee = repos.person_refs(session, authors[-1:]).get(authors[-1]) if authors else None
    first = first_name(ticket.customer_name)
    clean = lambda text: scrub(text, ticket.customer_name, first)  # noqa: E731
    return Conversation(
        ticket_id=ticket.id, subject=clean(" ".join(ticket.subject.split())), customer=first,
        employee=clean(employee.name) if employee and employee.name else "A colleague",
        question=clean(plain_text(messages[asked].text)),
        answer=clean(" ".join(plain_text(m.text) for m in replies)), link=link)


def post_digest(ctx: Context, session, setting: DigestSetting, day: date) -> int:
    """Queue the digest of the conversations answered the day before ``day``; how many it shows
    (none: nothing is posted)."""
    before = day - timedelta(days=1)
    answered = answered_between(session, *day_span(before, setting.zone))
    chosen = pick(list(answered), day, setting)
    links = thread_links.ticket_links(session, chosen)
    shown = []
    for ticket_id in chosen:
        ticket = session.get(Ticket, ticket_id)
        found = conversation(session, ticket, answered[ticket_id], thread_links.pick(links[ticket_id],
                                                                                       setting.platform))
        if found is not None:
            shown.append(found)
    if not shown:
        log.info("digest %s: no conversation was answered on %s; nothing posted", day, before)
        return 0
    outbound.post_to_channel(ctx, session, setting.platform, setting.channel,
                             card=digest_card(before, shown, len(answered)))
    return len(shown)


# ---------------------------------------------------------------- once a day


def _ran(session, key: str) -> bool:
    return session.execute(select(ScheduledRun.id).where(ScheduledRun.job == JOB, ScheduledRun.period_key == key)
                           ).first() is not None


def tick(ctx: Context, owner: str = "") -> int:
    """Send today's digest if it is due and has not been sent: the number of conversations shown
    (0 also when there was nothing to show). Blocking (a worker thread)."""
    now = ctx.now()
    with ctx.db.transaction(read_only=True) as session:
        setting = read_setting(session)
        day = due_day(setting, now) if setting is not None else None
        if day is None or _ran(session, day.isoformat()):
            return 0
    shown = 0

    def send(session) -> None:
        nonlocal shown
        current = read_setting(session)  # in the run's transaction: turned off a moment ago, or moved
        if current is None:
            raise _Gone
        shown = post_digest(ctx, session, current, day)

    try:
        if run_once(ctx, JOB, day.isoformat(), send, owner):
            log.info("digest %s sent to %s %s: %d conversation(s)", day, setting.platform, setting.channel, shown)
    except _Gone:
        return 0
    except Exception:  # tried again next round; nothing of this run was kept
        log.exception("digest %s could not be sent; trying again in %s s", day, ROUND_SECONDS)
        return 0
    return shown
