"""`pitchin stats --csv`: one row per ticket that arrived in the window, to check or chart the
figures elsewhere. Times are UTC (ISO 8601); cells a spreadsheet would run as a formula are made
inert, as in the feedback export (names and "other" referral words were typed by people)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import select

from handlers.context import Context
from handlers.feedback import inert_cell
from handlers.stats import SENT, within, referral_words
from handlers.surveys import OTHER, RATING_WORDS
from storage.models import Person, Survey, Ticket, TicketMessage

COLUMNS = ("ticket", "created_at", "first_response_at", "minutes_to_first_response", "closed_at", "hours_to_close",
           "answered_by", "rating", "nps", "referral")


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _referral(survey: Survey | None) -> str:
    if survey is None or survey.referral is None:
        return ""
    if survey.referral == OTHER and survey.referral_other:
        return f"{referral_words(OTHER)}: {survey.referral_other}"
    return referral_words(survey.referral)


def rows(session, start: datetime, end: datetime, now: datetime) -> list[list]:
    tickets = session.execute(select(Ticket).where(within(Ticket.created_at, start, end))
                              .order_by(Ticket.created_at, Ticket.id)).scalars().all()
    ids = [t.id for t in tickets]
    replies = session.execute(
        select(TicketMessage.ticket_id, TicketMessage.author_person_id, TicketMessage.delivered_at,
               TicketMessage.created_at)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(within(Ticket.created_at, start, end), TicketMessage.kind == "reply",
               TicketMessage.delivery_state == SENT)).all()
    reached: dict[int, list[tuple[datetime, int | None]]] = {tid: [] for tid in ids}
    for tid, author, delivered_at, created_at in replies:
        at = delivered_at or created_at
        if at <= now:
            reached[tid].append((at, author))
    people = {pid for answers in reached.values() for _, pid in answers if pid is not None}
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(people))).all()) if people else {}
    surveys = {s.ticket_id: s for s in session.execute(
        select(Survey).join(Ticket, Ticket.id == Survey.ticket_id)
        .where(within(Ticket.created_at, start, end))).scalars()}
    out = []
    for t in tickets:
        answers = sorted(reached[t.id], key=lambda a: a[0])
        first = answers[0][0] if answers else None
        who = list(dict.fromkeys(names.get(pid) or f"person #{pid}" for _, pid in answers if pid is not None))
        closed = t.closed_at if t.status == "closed" else None
        s = surveys.get(t.id)
        out.append([t.id, _stamp(t.created_at), _stamp(first),
                    round(max(first - t.created_at, timedelta()) / timedelta(minutes=1)) if first else "",
                    _stamp(closed),
                    f"{max(closed - t.created_at, timedelta()) / timedelta(hours=1):.1f}" if closed else "",
                    inert_cell("; ".join(who)), RATING_WORDS.get(s.rating, "") if s and s.rating else "",
                    s.nps if s and s.nps is not None else "", inert_cell(_referral(s))])
    return out


def export_csv(ctx: Context, days: int, now: datetime | None = None) -> str:
    now = now or ctx.now()
    with ctx.db.transaction(read_only=True) as session:
        found = rows(session, now - timedelta(days=days), now, now)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(found)
    return out.getvalue()
