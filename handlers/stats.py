"""How support is doing over a window of days: satisfaction, NPS, first response and close times,
tickets in and closed, who answered customers, how customers heard of us, and the same week by week.

``compute`` reads the database once and returns a ``Report``: plain numbers, no words. The words are
handlers/stats_text.py, the chart handlers/stats_chart.py, the CSV handlers/stats_csv.py.

The arithmetic, so that anyone can check a figure by hand:
- % Great = Great ratings / all ratings, by when the rating was given (``rated_at``); a customer who
  clicked twice counts once, with their last answer (the survey keeps one rating);
- NPS = % promoters (9–10) − % detractors (0–6) of the NPS answers, by ``nps_at``, from −100 to +100;
- percentages are rounded half away from zero (12.5 → 13, −12.5 → −13), never Python's half-to-even;
- median: the middle value, or the mean of the two middle ones for an even count; p90: nearest rank
  (the ⌈0.9 n⌉-th smallest value), so it is always a time that really happened;
- first response: from the ticket's arrival to the first reply that reached the customer (delivered,
  else accepted), for tickets that arrived in the window; those without one yet are "still waiting";
- time to close: arrival to (last) close, for tickets closed in the window.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from math import floor

from sqlalchemy import and_, func, or_, select

from handlers.surveys import OTHER, REFERRALS
from storage.models import Person, ReplyDraft, Survey, Ticket, TicketMessage

WINDOWS = {"7d": 7, "30d": 30, "90d": 90}  # what `stats` accepts, in days
DEFAULT_WINDOW = "30d"
TOP_HELPERS = 5
TOP_REFERRALS = 5
PROMOTER_FROM = 9  # 9–10
DETRACTOR_UP_TO = 6  # 0–6; 7–8 are passives
OTHER_WORDS = "Other"
SENT = "sent"  # TicketMessage.delivery_state of a reply that reached the customer


# ---------------------------------------------------------------- arithmetic


def rounded(value: Fraction) -> int:
    """Half away from zero: 12.5 → 13, −12.5 → −13."""
    whole = floor(abs(value) + Fraction(1, 2))
    return whole if value >= 0 else -whole


def median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: list[timedelta]) -> timedelta | None:
    """Nearest rank: the ⌈0.9 n⌉-th smallest."""
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-9 * len(ordered) // 10)
    return ordered[rank - 1]


@dataclass(frozen=True)
class Ratings:
    great: int = 0
    okay: int = 0
    not_good: int = 0

    @property
    def total(self) -> int:
        return self.great + self.okay + self.not_good

    @property
    def great_percent(self) -> int | None:
        """None without ratings: nothing to divide by, and 0 % would be a lie."""
        return rounded(Fraction(100 * self.great, self.total)) if self.total else None

    @classmethod
    def of(cls, ratings: list[str]) -> "Ratings":
        counts = Counter(ratings)
        return cls(counts["great"], counts["okay"], counts["not_good"])


@dataclass(frozen=True)
class Nps:
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> int | None:
        """From −100 (every answer a detractor) to +100 (every one a promoter); None without answers."""
        if not self.answers:
            return None
        return rounded(Fraction(100 * (self.promoters - self.detractors), self.answers))

    @classmethod
    def of(cls, scores: list[int]) -> "Nps":
        return cls(sum(1 for s in scores if s >= PROMOTER_FROM),
                   sum(1 for s in scores if DETRACTOR_UP_TO < s < PROMOTER_FROM),
                   sum(1 for s in scores if s <= DETRACTOR_UP_TO))


@dataclass(frozen=True)
class Spread:
    """How long something took: how many, the median and the 90th percentile."""

    count: int = 0
    median: timedelta | None = None
    p90: timedelta | None = None

    @classmethod
    def of(cls, values: list[timedelta]) -> "Spread":
        values = [max(v, timedelta()) for v in values]  # a clock step backwards is not a negative wait
        return cls(len(values), median(values), p90(values))


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Week:
    """One ISO week (Monday to Sunday, UTC), cut to the report's window at either end."""

    monday: date
    tickets_in: int
    tickets_closed: int
    great_percent: int | None
    nps: int | None


@dataclass(frozen=True)
class DraftCounts:
    """What became of the AI drafts decided in the window (handlers/ai_drafts.py)."""

    sent: int = 0  # sent as drafted
    edited: int = 0  # sent after a change
    discarded: int = 0  # by the person
    stale: int = 0  # the customer wrote again before it was sent

    @property
    def total(self) -> int:
        return self.sent + self.edited + self.discarded + self.stale


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    ratings: Ratings
    nps: Nps
    first_response: Spread  # tickets that arrived in the window and were answered
    waiting: int  # tickets that arrived in the window, still open, no answer reached the customer yet
    closed_unanswered: int  # tickets that arrived in the window and were closed without an answer
    to_close: Spread  # tickets closed in the window
    tickets_in: int
    tickets_closed: int
    helpers: int  # different employees whose reply reached a customer in the window
    top_helpers: tuple[tuple[str, int], ...]  # (name, replies), most first
    referrals: tuple[tuple[str, int], ...]  # (words, answers), most first
    weeks: tuple[Week, ...]
    drafts: DraftCounts = DraftCounts()

    @property
    def days(self) -> int:
        return round((self.end - self.start) / timedelta(days=1))


def monday_of(moment: datetime) -> date:
    day = moment.astimezone(timezone.utc).date()
    return day - timedelta(days=day.weekday())


def _mondays(start: datetime, end: datetime) -> list[date]:
    first, last = monday_of(start), monday_of(end - timedelta(microseconds=1))
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def within(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def reached_at(reply: TicketMessage) -> datetime:
    """When a sent reply reached the customer: its delivery, else (older rows) its acceptance."""
    return reply.delivered_at or reply.created_at


def _first_answers(session, start: datetime, end: datetime, now: datetime) -> dict[int, datetime]:
    """Ticket id → when its first reply reached the customer (by ``now``), for tickets that arrived
    in the window."""
    rows = session.execute(
        select(TicketMessage.ticket_id, TicketMessage.delivered_at, TicketMessage.created_at)
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(within(Ticket.created_at, start, end), TicketMessage.kind == "reply",
               TicketMessage.delivery_state == SENT)).all()
    first: dict[int, datetime] = {}
    for ticket_id, delivered_at, created_at in rows:
        at = delivered_at or created_at
        if at <= now and (ticket_id not in first or at < first[ticket_id]):
            first[ticket_id] = at
    return first


def _helpers(session, start: datetime, end: datetime) -> tuple[int, tuple[tuple[str, int], ...]]:
    reached = or_(within(TicketMessage.delivered_at, start, end),
                  and_(TicketMessage.delivered_at.is_(None), within(TicketMessage.created_at, start, end)))
    rows = session.execute(select(TicketMessage.author_person_id).where(
        TicketMessage.kind == "reply", TicketMessage.delivery_state == SENT,
        TicketMessage.author_person_id.is_not(None), reached)).scalars().all()
    replies = Counter(rows)
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(list(replies)))).all()) \
        if replies else {}
    # most replies first; equals by name, so the list is the same every time it is asked for
    ranked = sorted(replies.items(), key=lambda kv: (-kv[1], (names.get(kv[0]) or "").lower(), kv[0]))
    return len(replies), tuple((names.get(pid) or f"person #{pid}", n) for pid, n in ranked[:TOP_HELPERS])


def referral_words(referral: str | None) -> str:
    return REFERRALS.get(referral or "", OTHER_WORDS)


def _referrals(session, start: datetime, end: datetime) -> tuple[tuple[str, int], ...]:
    """Answers to "How did you hear about us?" given in the window (asked with the NPS question;
    a survey without an NPS answer counts when it was rated)."""
    rows = session.execute(select(Survey.referral).where(
        Survey.referral.is_not(None),
        or_(within(Survey.nps_at, start, end),
            and_(Survey.nps_at.is_(None), within(Survey.rated_at, start, end))))).scalars().all()
    counts = Counter(referral_words(r) for r in rows)
    order = list(REFERRALS.values()) + [OTHER_WORDS]
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], order.index(kv[0])))[:TOP_REFERRALS])


def satisfaction(session, start: datetime, end: datetime) -> tuple[Ratings, Nps]:
    """The ratings and NPS answers given in [start, end) (the weekly briefing's two lines)."""
    ratings = session.execute(select(Survey.rating).where(
        Survey.rating.is_not(None), within(Survey.rated_at, start, end))).scalars().all()
    scores = session.execute(select(Survey.nps).where(
        Survey.nps.is_not(None), within(Survey.nps_at, start, end))).scalars().all()
    return Ratings.of(list(ratings)), Nps.of(list(scores))


def compute(session, start: datetime, end: datetime, now: datetime) -> Report:
    """The report of [start, end); replies count once they reached the customer by ``now``."""
    arrived = session.execute(select(Ticket.id, Ticket.created_at, Ticket.status)
                              .where(within(Ticket.created_at, start, end))).all()
    closed = session.execute(select(Ticket.created_at, Ticket.closed_at)
                             .where(within(Ticket.closed_at, start, end))).all()
    rated = session.execute(select(Survey.rating, Survey.rated_at).where(
        Survey.rating.is_not(None), within(Survey.rated_at, start, end))).all()
    scored = session.execute(select(Survey.nps, Survey.nps_at).where(
        Survey.nps.is_not(None), within(Survey.nps_at, start, end))).all()

    first = _first_answers(session, start, end, now)
    waits = [first[tid] - created for tid, created, _ in arrived if tid in first]
    unanswered = [status for tid, _, status in arrived if tid not in first]
    helpers, top = _helpers(session, start, end)

    by_week: dict[date, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for _, created, _ in arrived:
        by_week[monday_of(created)]["in"].append(1)
    for _, closed_at in closed:
        by_week[monday_of(closed_at)]["closed"].append(1)
    for rating, at in rated:
        by_week[monday_of(at)]["ratings"].append(rating)
    for score, at in scored:
        by_week[monday_of(at)]["nps"].append(score)
    weeks = tuple(Week(m, len(by_week[m]["in"]), len(by_week[m]["closed"]),
                       Ratings.of(by_week[m]["ratings"]).great_percent, Nps.of(by_week[m]["nps"]).score)
                  for m in _mondays(start, end))

    return Report(
        start=start, end=end,
        ratings=Ratings.of([r for r, _ in rated]), nps=Nps.of([s for s, _ in scored]),
        first_response=Spread.of(waits),
        waiting=sum(1 for s in unanswered if s != "closed"),
        closed_unanswered=sum(1 for s in unanswered if s == "closed"),
        to_close=Spread.of([closed_at - created for created, closed_at in closed]),
        tickets_in=len(arrived), tickets_closed=len(closed),
        helpers=helpers, top_helpers=top, referrals=_referrals(session, start, end), weeks=weeks,
        drafts=_drafts(session, start, end))


def _drafts(session, start: datetime, end: datetime) -> DraftCounts:
    """AI drafts by what became of them, counted when it was decided (sent, edited, discarded, stale)."""
    counts = dict(session.execute(select(ReplyDraft.state, func.count()).where(
        within(ReplyDraft.decided_at, start, end)).group_by(ReplyDraft.state)).all())
    return DraftCounts(counts.get("sent", 0), counts.get("edited", 0), counts.get("discarded", 0),
                       counts.get("stale", 0))
