"""A support history written straight into the database, for the stats tests: tickets that arrived
and closed at given times, replies that reached the customer (or did not), and survey answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from handlers.surveys import open_survey
from storage.models import Person, Ticket, TicketMessage

UTC = timezone.utc
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # Mon 2 Nov 2026, 00:00 UTC: week 45 starts


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """A moment counted from MONDAY."""
    return MONDAY + timedelta(days=days, hours=hours, minutes=minutes)


def person(session, name: str) -> int:
    p = Person(name=name)
    session.add(p)
    session.flush()
    return p.id


def ticket(session, created: datetime, closed: datetime | None = None, replies=(), email: str | None = None) -> Ticket:
    """``replies``: (person id, when it reached the customer) or (person id, when, delivery state); a
    reached time of None stands for an older row without delivered_at (accepted 1 min after arrival)."""
    t = Ticket(subject="Help", customer_email=email or f"c{created.timestamp():.0f}@example.com",
               customer_name="Carol", created_at=created, updated_at=created, last_customer_at=created,
               status="closed" if closed else "open", closed_at=closed)
    session.add(t)
    session.flush()
    session.add(TicketMessage(ticket_id=t.id, kind="customer", text="Help please", created_at=created))
    for reply in replies:
        author, reached, state = (*reply, "sent") if len(reply) == 2 else reply
        session.add(TicketMessage(
            ticket_id=t.id, kind="reply", author_person_id=author, text="Here you go", delivery_state=state,
            created_at=(reached - timedelta(seconds=10)) if reached else created + timedelta(minutes=1),
            delivered_at=reached if state == "sent" else None))
    session.flush()
    return t


def survey(session, t: Ticket, rating: str | None = None, rated_at: datetime | None = None, nps: int | None = None,
           nps_at: datetime | None = None, referral: str | None = None, other: str | None = None):
    s, _ = open_survey(session, t, None, t.created_at)
    s.rating, s.rated_at = rating, rated_at if rating else None
    s.nps, s.nps_at = nps, nps_at if nps is not None else None
    s.referral, s.referral_other = referral, other
    session.add(s)
    session.flush()
    return s


def answered(session, rating: str | None, rated_at: datetime, nps: int | None = None, referral: str | None = None,
             other: str | None = None):
    """A closed ticket with its survey answered at ``rated_at`` (NPS at the same moment)."""
    t = ticket(session, rated_at - timedelta(days=2), rated_at - timedelta(days=1))
    return survey(session, t, rating, rated_at, nps, rated_at if nps is not None else None, referral, other)
