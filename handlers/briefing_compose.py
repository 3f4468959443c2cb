"""A briefing, composed: the week's top customer issues for one department (or the company).

Read from stored vectors only (handlers.message_vectors.week_items): the week's customer messages
are grouped (handlers.issue_groups.top_issues), the department's issues chosen (its ``about`` words,
and the "Not ours → X" moves), and each issue given what the briefing shows: a label, its distinct
customers and last week's figure, two quotes in the customers' own words with links to their
threads, the suggestion card it is linked to, and how many of its tickets were answered.

Identity from week to week, with one vector per issue: the unit mean of its members' (raw,
uncentred) vectors. Measured on banking77 with the bundled model (two disjoint sets of 6 messages
per category, as two weeks would bring): the same category's two means have cosine ≥ 0.80 in 96 %
of categories (median 0.90), two different categories' in 0.3 % of pairs (median 0.30). So:

- last week's figure ("↑ from 4"): last week's messages are grouped again from their stored
  vectors, and this week's issue takes the figure of the group whose mean is nearest, if at least
  ``WEEK_MATCH``; else it is "new this week". Recomputed rather than read from what was shown last
  week, so an issue that was fifth last week and first now still shows where it came from;
- the stored issue (BriefingIssue.previous_id) is last week's shown issue of the same department
  nearest it, at the same threshold;
- a move ("Not ours → Billing", IssueRoute) takes every later issue whose mean is within
  ``ROUTE_NEAR`` of the moved one's; the newest move wins.

A department's ``about`` words are compared with an issue's mean: the same measurement put a topic's
own words at cosine 0.42–0.85 from its categories' means, unrelated categories' median at 0.10–0.26,
and words' scales differ, so an issue is "close" when within ``ABOUT_MARGIN`` of the week's closest
issue and at least ``ABOUT_NEAR``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo

import numpy as np
from sqlalchemy import or_, select

from handlers import message_vectors, thread_links
from handlers.briefing_text import shorten, verbatim, write_issue
from handlers.context import Context
from handlers.departments import model_name, zone_of
from handlers.issue_groups import history_centre, top_issues
from handlers.message_vectors import Item
from handlers.stats import satisfaction
from handlers.stats_text import briefing_lines
from storage.models import BriefingIssue, Department, IssueRoute, SuggestionCard, SuggestionRequest, TicketMessage

WEEK = timedelta(days=7)
MIN_CUSTOMERS = 2  # an issue one customer raised is a ticket, not a trend: it is not shown
SHOWN = 3  # issues a briefing shows (plus the company's top one for a department with words)
GROUPS = 20  # the week's issues considered: enough for a department's words to find its own
LAST_WEEK_GROUPS = 60  # last week's groups an issue is matched against (a small one may grow)
WEEK_MATCH = 0.80
ROUTE_NEAR = 0.80
ABOUT_NEAR = 0.40
ABOUT_MARGIN = 0.15
QUOTE_CHARS = 160  # a quote is a sentence or two, not the whole mail
WRITER_TEXTS = 12  # the messages a language model is shown to label an issue
MOVE_TARGETS = 3  # "Not ours → X" buttons per issue: the departments whose words are closest


@dataclass(frozen=True)
class Quote:
    text: str  # verbatim (shortened with "…" when long)
    who: str  # the customer's first name, never an address
    links: dict  # platform → link to the ticket's thread (none for feedback logged without a ticket)


@dataclass(frozen=True)
class ShownIssue:
    label: str
    summary: str
    ai: bool
    customers: int
    before: int | None  # distinct customers of the same issue last week; None: new this week
    quotes: tuple[Quote, ...]
    card: tuple[int, str, str] | None  # (id, title, status) of its suggestion card
    tickets: int
    answered: int
    issue_id: int | None = None  # the stored BriefingIssue (carried by the "Not ours" buttons)
    moves: tuple[tuple[int, str], ...] = ()  # (department id, name) it can be moved to
    extra: bool = False  # the company's top issue, added to a department's own
    centroid: np.ndarray | None = field(default=None, repr=False, compare=False)  # the issue's mean vector


@dataclass(frozen=True)
class Briefing:
    department: str | None  # its name; None: the company's
    department_id: int | None
    platform: str | None
    channel: str | None
    since: datetime
    until: datetime
    zone: tzinfo
    raised: int  # distinct customers who raised anything this week
    issues: tuple[ShownIssue, ...] = field(default=())
    model: str = ""  # the model its vectors are of
    # the company's satisfaction and NPS of the same days, in words (the briefing ends with them)
    surveys: tuple[str, ...] = ()
    surveyed: bool = False  # a customer rated or gave an NPS answer in those days


@dataclass
class Group:
    """One issue of one week: its messages (most central first), customers, and mean vector."""

    members: list[Item]
    customers: int
    centroid: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n == 0, 1.0, n)


def week_groups(items: list[Item], k: int, centre: np.ndarray | None = None) -> list[Group]:
    """The week's ``k`` largest issues by distinct customers, most first. ``centre``: what customers
    usually write (issue_groups.history_centre); None: plain cosine (too little history)."""
    if not items:
        return []
    vectors = np.stack([i.vector for i in items])
    raw = _unit(vectors)
    return [Group([items[j] for j in issue.members], issue.customers, _unit(raw[list(issue.members)].mean(axis=0)))
            for issue in top_issues(vectors, [i.customer for i in items], k, centre=centre)]


# ---------------------------------------------------------------- choosing a department's issues


def route_owners(groups: list[Group], routes: list[IssueRoute]) -> list[int | None]:
    """The department each issue was moved to (the newest move near it), or None."""
    if not routes or not groups:
        return [None] * len(groups)
    ordered = sorted(routes, key=lambda r: r.id, reverse=True)
    centres = np.stack([message_vectors.decode(r.centroid) for r in ordered])
    near = np.stack([g.centroid for g in groups]) @ _unit(centres).T >= ROUTE_NEAR
    return [ordered[int(np.argmax(row))].department_id if row.any() else None for row in near]


def choose(groups: list[Group], owners: list[int | None], dept: Department | None,
           about: np.ndarray | None) -> list[tuple[int, bool]]:
    """Indexes of the issues this briefing shows, with whether each is the company's top one added."""
    if dept is None:
        return [(i, False) for i in range(min(SHOWN, len(groups)))]
    ours = [i for i, owner in enumerate(owners) if owner in (None, dept.id)]
    if about is None:
        return [(i, False) for i in ours[:SHOWN]]
    closeness = {i: float(groups[i].centroid @ about) for i in ours}
    floor = max(ABOUT_NEAR, max(closeness.values(), default=0.0) - ABOUT_MARGIN)
    near = [i for i in ours if owners[i] == dept.id or closeness[i] >= floor][:SHOWN]
    picked = [(i, False) for i in near]
    if ours and ours[0] not in near:  # the company's top issue, which it does not belong to elsewhere
        picked.append((ours[0], True))
    return picked


def match_last_week(chosen: list[Group], last: list[Group]) -> list[int | None]:
    """Last week's distinct customers of each chosen issue (None: new), each group matched once."""
    figures: list[int | None] = [None] * len(chosen)
    if not chosen or not last:
        return figures
    sims = np.stack([g.centroid for g in chosen]) @ np.stack([g.centroid for g in last]).T
    taken: set[int] = set()
    for flat in np.argsort(-sims, axis=None):
        i, j = divmod(int(flat), sims.shape[1])
        if sims[i, j] < WEEK_MATCH:
            break
        if figures[i] is None and j not in taken:
            figures[i] = last[j].customers
            taken.add(j)
    return figures


# ---------------------------------------------------------------- what an issue shows


def first_name(name: str) -> str:
    name = (name or "").strip()
    return "a customer" if not name or "@" in name else name.split()[0]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def quote_of(text: str) -> str:
    """The customer's words, whole when short; else the opening sentences that fit, or cut at a word."""
    text = " ".join(text.split())
    if len(text) <= QUOTE_CHARS:
        return text
    ends = [m.start() for m in _SENTENCE_END.finditer(text) if 40 <= m.start() <= QUOTE_CHARS - 1]
    return text[:ends[-1]] + " …" if ends else shorten(text, QUOTE_CHARS)


def _quotes(session, group: Group, chosen_words: tuple[str, ...]) -> tuple[Quote, ...]:
    """Two quotes from two customers: the model's verbatim picks when it gave some, else the
    issue's most central messages."""
    picks: list[tuple[str, Item]] = []
    for words in chosen_words:
        member = next((m for m in group.members if verbatim(words, [m.text])), None)
        if member is not None and all(member.customer != p[1].customer for p in picks):
            picks.append((quote_of(words), member))
    # without the model's picks the label is the central message already: quote the others first
    others = group.members if chosen_words else group.members[1:] + group.members[:1]
    for member in others:
        if len(picks) >= 2:
            break
        if all(member.customer != p[1].customer for p in picks):
            picks.append((quote_of(member.text), member))
    links = thread_links.ticket_links(session, [m.ticket_id for _, m in picks[:2] if m.ticket_id is not None])
    return tuple(Quote(words, first_name(m.customer_name), links.get(m.ticket_id, {})) for words, m in picks[:2])


def _tickets(group: Group) -> set[int]:
    return {m.ticket_id for m in group.members if m.ticket_id is not None}


def _card(session, group: Group) -> tuple[int, str, str] | None:
    """The suggestion card most of the issue's feedback is on (its own requests, and requests
    logged from its tickets), followed through merges."""
    cards = Counter(m.card_id for m in group.members if m.card_id is not None)
    tickets = _tickets(group)
    if tickets:
        seen = {m.ref_id for m in group.members if m.kind == message_vectors.REQUEST}
        for rid, card_id in session.execute(select(SuggestionRequest.id, SuggestionRequest.card_id)
                                            .where(SuggestionRequest.ticket_id.in_(tickets))):
            if rid not in seen:
                cards[card_id] += 1
    if not cards:
        return None
    top = min(cards, key=lambda c: (-cards[c], c))
    card = session.get(SuggestionCard, top)
    for _ in range(10):  # a card merged into another shows the one it lives on in
        if card is None or card.merged_into_id is None:
            break
        card = session.get(SuggestionCard, card.merged_into_id)
    return (card.id, card.title, card.status.replace("_", " ")) if card is not None else None


def _answered(session, tickets: set[int]) -> int:
    if not tickets:
        return 0
    rows = session.execute(select(TicketMessage.ticket_id).where(
        TicketMessage.ticket_id.in_(tickets), TicketMessage.kind == "reply",
        or_(TicketMessage.delivery_state.is_(None), TicketMessage.delivery_state != "cancelled")).distinct())
    return len(set(rows.scalars()))


def _moves(group: Group, dept: Department | None, others: list[Department]) -> tuple[tuple[int, str], ...]:
    """The departments this issue can be moved to, those whose words are closest first."""
    if dept is None:
        return ()

    def closeness(d: Department) -> float:
        if d.about_vector is None:
            return -2.0
        return float(group.centroid @ _unit(message_vectors.decode(d.about_vector)))

    ranked = sorted((d for d in others if d.id != dept.id), key=lambda d: (-closeness(d), d.name.lower()))
    return tuple((d.id, d.name) for d in ranked[:MOVE_TARGETS])


def _previous_issue(session, dept_id: int | None, model: str, week_start: date, centroid: np.ndarray) -> int | None:
    """Last week's shown issue of the same briefing nearest this one (at least WEEK_MATCH)."""
    rows = session.execute(select(BriefingIssue.id, BriefingIssue.centroid).where(
        BriefingIssue.department_id == dept_id if dept_id is not None else BriefingIssue.department_id.is_(None),
        BriefingIssue.model == model, BriefingIssue.week_start >= week_start - timedelta(days=13),
        BriefingIssue.week_start < week_start).order_by(BriefingIssue.id.desc())).all()
    best, best_id = WEEK_MATCH, None
    for issue_id, blob in rows:
        sim = float(_unit(message_vectors.decode(blob)) @ centroid)
        if sim >= best + (1e-6 if best_id is not None else 0):  # the newest of equals
            best, best_id = sim, issue_id
    return best_id


# ---------------------------------------------------------------- the briefing


def compose(ctx: Context, session, dept: Department | None, since: datetime, until: datetime, *,
            store: bool = True, zone: tzinfo | None = None) -> Briefing:
    """The briefing of [since, until) for ``dept`` (None: the company's top three). With ``store``,
    each issue shown is kept as a BriefingIssue in ``session`` (``keep``). Callers that post compose
    in a read-only transaction and ``keep`` in the writing one: a language model's labels take
    seconds, and SQLite's write lock must not wait on them."""
    model = model_name(ctx)
    items = message_vectors.week_items(session, since - WEEK, until, model)
    this = [i for i in items if i.at >= since]
    last = [i for i in items if i.at < since]
    # centred on what customers usually write (the weeks before), so a small week's own topics are
    # not what is taken away (bench/BRIEFING.md)
    centre = history_centre(message_vectors.history_vectors(session, since, model))
    groups = [g for g in week_groups(this, GROUPS, centre) if g.customers >= MIN_CUSTOMERS]
    routes = list(session.execute(select(IssueRoute).where(IssueRoute.model == model)).scalars()) if dept else []
    owners = route_owners(groups, routes)
    about = None  # words embedded by another model than the messages' are not comparable: left out
    if dept is not None and dept.about_vector is not None and dept.about_model == model:
        about = _unit(message_vectors.decode(dept.about_vector))
    picked = choose(groups, owners, dept, about)
    chosen = [groups[i] for i, _ in picked]
    before = match_last_week(chosen, week_groups(last, LAST_WEEK_GROUPS, centre))
    others = list(session.execute(select(Department).order_by(Department.name)).scalars()) if dept else []
    zone = zone or (zone_of(dept) if dept is not None else None) or since.tzinfo
    shown = []
    for (index, extra), group, figure in zip(picked, chosen, before):
        texts = [m.text for m in group.members[:WRITER_TEXTS]]
        written = write_issue(ctx.writer, texts, group.members[0].text)
        tickets = _tickets(group)
        shown.append(ShownIssue(written.label, written.summary, written.ai, group.customers, figure,
                                _quotes(session, group, written.quotes if written.ai else ()), _card(session, group),
                                len(tickets), _answered(session, tickets), None, _moves(group, dept, others),
                                extra, group.centroid))
    ratings, nps = satisfaction(session, since, until)
    b = Briefing(dept.name if dept else None, dept.id if dept else None, dept.platform if dept else None,
                 dept.channel_id if dept else None, since, until, zone, len({i.customer for i in this}),
                 tuple(shown), model, briefing_lines(ratings, nps), bool(ratings.total or nps.answers))
    return keep(ctx, session, b) if store else b


def keep(ctx: Context, session, b: Briefing) -> Briefing:
    """Store each issue of ``b`` as a BriefingIssue (the "Not ours" buttons carry its id; next
    week's issues are matched to it) and return ``b`` with the ids."""
    week_start = b.since.astimezone(b.zone).date()
    kept = []
    for issue in b.issues:
        row = BriefingIssue(department_id=b.department_id, week_start=week_start, label=issue.label,
                            customers=issue.customers, model=b.model, centroid=message_vectors.encode(issue.centroid),
                            previous_id=_previous_issue(session, b.department_id, b.model, week_start, issue.centroid),
                            created_at=ctx.now())
        session.add(row)
        session.flush()
        kept.append(replace(issue, issue_id=row.id))
    return replace(b, issues=tuple(kept))
