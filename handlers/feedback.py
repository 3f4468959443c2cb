"""The suggestion tracker: feedback logged where it is heard, duplicates caught while logging,
every customer who asked known, and told once when their suggestion ships (or is declined).

Written once for Slack, Teams and the console; adapters turn their forms into a ``Draft``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import asdict, dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from handlers.base import Actor, Button, Reply
from handlers.context import Context
from handlers.customers import customer_key, parse_customer
from handlers.outbound import CUSTOMER_SUGGESTION, name_of
from storage import repos
from storage.models import (FeedbackDraft, Identity, SuggestionCard, SuggestionNotice, SuggestionRequest, Ticket)

_log = logging.getLogger("pitchin.feedback")  # (``log`` is the verb below)

# a card's statuses: Fider's fixed set ("in progress" and "in-progress" are read as in_progress)
STATUS_WORDS = {status: status for status in ("new", "planned", "in_progress", "shipped", "declined")}
OUTCOMES = ("shipped", "declined")
IMPORTANCE = ("nice to have", "important", "blocker")
SIMILAR_MIN_SCORE = 0.3  # below this a card is not offered as "the same suggestion" (banking77: 96% of right
# cards score at least this once the index whitens, 99.5% before; unrelated topics score about 0.1)
SEARCH_MIN_SCORE = 0.25  # search is looser than "the same suggestion"
TITLE_LIMIT = 120

COMMAND = "/feedback"  # Slack's slash command; the Teams and console doors pass their own spelling
_USAGE = {
    "log": "{cmd} <what the customer wants>   (or {cmd} alone for the form)",
    "merge": "{cmd} merge <card> into <card>",
    "status": "{cmd} status <card> new|planned|in_progress|shipped|declined",
    "show": "{cmd} show <card>",
    "top": "{cmd} top [department]",
    "search": "{cmd} search <words>",
    "export": "{cmd} export",
    "log words": "{cmd} log <text>   (feedback that starts with one of these command words)",
}


def usage(kind: str, command: str = COMMAND) -> str:
    """A usage line in the door's words: ``command`` is how people type the feedback command there."""
    return _USAGE[kind].format(cmd=command)


USAGE = {kind: usage(kind) for kind in _USAGE}  # Slack's


@dataclass(frozen=True)
class Draft:
    """Feedback as typed into a form (or one line)."""

    text: str
    customers: tuple[str, ...] = ()  # emails or names
    department: str = ""
    importance: str = ""
    quote: str = ""
    ticket_id: int | None = None

    def problems(self) -> list[str]:
        out = []
        if not self.text.strip():
            out.append("Say what the customer wants.")
        if self.importance and self.importance not in IMPORTANCE:
            out.append(f"Importance is one of: {', '.join(IMPORTANCE)}.")
        return out


@dataclass
class Offer:
    """Cards like the one being logged, for the person to pick from (or create a new one)."""

    draft_id: int
    cards: list[dict] = field(default_factory=list)  # id, title, status, customers, score


def may_embed(fn):
    """Marks a verb that computes embeddings (see Context.run)."""
    fn.may_embed = True
    return fn


def status_label(status: str) -> str:
    return status.replace("_", " ")


def _usage(kind: str, why: str, command: str = COMMAND) -> Reply:
    return Reply(f"{why}\nUsage: {usage(kind, command)}", ok=False)


def _customers_of(session, card_id: int) -> list[tuple[str | None, str]]:
    seen: dict[str, tuple[str | None, str]] = {}
    for email, name in session.execute(select(SuggestionRequest.customer_email, SuggestionRequest.customer_name)
                                       .where(SuggestionRequest.card_id == card_id)
                                       .order_by(SuggestionRequest.id)).all():
        key = customer_key(email, name)
        if key is not None:
            seen.setdefault(key, (email, name))
    return list(seen.values())


def _live_card(session, card_id: int) -> SuggestionCard | None:
    card = session.get(SuggestionCard, card_id)
    while card is not None and card.merged_into_id is not None:
        card = session.get(SuggestionCard, card.merged_into_id)
    return card


def _summary(session, card: SuggestionCard, score: float | None = None) -> dict:
    out = {"id": card.id, "title": card.title, "status": card.status,
           "customers": len(_customers_of(session, card.id))}
    if score is not None:
        out["score"] = round(score, 3)
    return out


# ---------------------------------------------------------------- logging


@may_embed
def log(ctx: Context, actor: Actor, draft: Draft, command: str = COMMAND) -> Reply:
    """Log feedback: when similar cards exist, offer them first; otherwise make a new card.
    ``command``: how the door spells the feedback command, for a usage line."""
    problems = draft.problems()
    if problems:
        return _usage("log", " ".join(problems), command)
    # the lookup reads, and may embed, in a transaction of its own: a writing one would hold SQLite's
    # write lock (every other writer, ticket intake included, waiting) for as long as embedding takes
    with ctx.db.transaction(read_only=True) as session:
        found = ctx.suggestions.similar(session, _text_of(draft), k=3)
    still = _still_reading(ctx)
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        candidates = [(cid, score) for cid, score in found if score >= SIMILAR_MIN_SCORE
                      and _is_open(session.get(SuggestionCard, cid))]  # not merged since the lookup
        if candidates:
            saved = FeedbackDraft(person_id=person.id, data=asdict(draft))
            session.add(saved)
            session.flush()
            cards = [_summary(session, session.get(SuggestionCard, cid), score) for cid, score in candidates]
        else:
            card, created = _file(session, person.id, draft, None)
            filed = _filed_reply(session, card, created=True)
    _save_vectors(ctx)
    if not candidates:
        ctx.texts_arrived()  # the requests just filed get their message vectors (message_vectors.py)
        return Reply(filed.text + (f"\n{still} If one is the same as this card, merge them." if still else ""))
    lines = ["This sounds like feedback we have heard before:"]
    buttons = []
    for c in cards:
        lines.append(f"#{c['id']} · {c['title']} · {status_label(c['status'])} · {_people(c['customers'])}")
        buttons.append(Button(f"Add to #{c['id']}", "feedback.add", f"{saved.id}:{c['id']}"))
    buttons.append(Button("Create new", "feedback.new", str(saved.id), style="primary"))
    if still:
        lines.append(still)
    return Reply("\n".join(lines), actions=tuple(buttons))


def _still_reading(ctx: Context) -> str:
    """A line for answers given while the index is still catching up (``SuggestionIndex.behind``)."""
    behind = ctx.suggestions.behind
    return (f"(Pitchin is still reading {_count(behind, 'earlier request')} after a restart or a change of model, "
            f"so a similar card may be missing here.)" if behind else "")


def _is_open(card: SuggestionCard | None) -> bool:
    return card is not None and card.merged_into_id is None


def _save_vectors(ctx: Context) -> None:
    """Store the vectors a lookup computed (restarts and other processes read them); a failure here
    loses nothing that matters: they are computed again when needed."""
    try:
        ctx.suggestions.save(ctx.db)
    except Exception:
        _log.warning("could not store suggestion vectors; they will be computed again when needed", exc_info=True)


def _text_of(draft: Draft) -> str:
    return f"{draft.text}\n{draft.quote}".strip()


def _count(n: int, noun: str) -> str:
    return "" if n == 0 else f"1 {noun}" if n == 1 else f"{n} {noun}s"


def _people(n: int) -> str:
    return "no customer named yet" if n == 0 else "1 customer" if n == 1 else f"{n} customers"


def _file(session, person_id: int, draft: Draft, card_id: int | None) -> tuple[SuggestionCard, bool]:
    created = card_id is None
    if created:
        title = " ".join(draft.text.split())
        card = SuggestionCard(title=title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…",
                              department=draft.department, created_by_id=person_id)
        session.add(card)
        session.flush()
    else:
        card = _live_card(session, card_id)
    customers = [parse_customer(c) for c in draft.customers if c.strip()] or [(None, "")]
    ticket = session.get(Ticket, draft.ticket_id) if draft.ticket_id else None
    asker = customer_key(ticket.customer_email, ticket.customer_name) if ticket is not None else None
    if ticket is not None and (asker is None or asker not in {customer_key(e, n) for e, n in customers}):
        customers = [(e, n) for e, n in customers if e or n] + [(ticket.customer_email, ticket.customer_name)]
    for email, name in customers:
        session.add(SuggestionRequest(card_id=card.id, text=draft.text.strip(), quote=draft.quote.strip(),
                                      customer_email=email, customer_name=name, importance=draft.importance,
                                      department=draft.department, ticket_id=draft.ticket_id,
                                      logged_by_id=person_id))
    repos.suggestions_changed(session, [card.id])  # every process's index reads the card again
    return card, created


def _filed_reply(session, card: SuggestionCard, created: bool) -> Reply:
    count = len(_customers_of(session, card.id))
    verb = "New card" if created else "Added to card"
    asked = f"{_people(count)} asked so far" if count else "no customer named yet: add one with the form"
    return Reply(f"{verb} #{card.id} · {card.title} · {status_label(card.status)} · {asked}.")


def _claim_draft(session, actor_person: int, draft_id: int) -> FeedbackDraft | Reply:
    saved = session.get(FeedbackDraft, draft_id)
    if saved is None:
        return Reply("That feedback form has expired; log it again.", ok=False)
    kind = saved.data.get("kind", "log")
    if saved.person_id != actor_person:
        who = {"announce": "who asked for this announcement can confirm it",
               "unmerge": "who merged these cards can undo it"}.get(kind, "logging this feedback can choose where it goes")
        return Reply(f"Only the person {who}.", ok=False)
    if saved.used:
        if kind == "announce":
            return Reply("Already confirmed: everyone on the card has been told, and nobody is told twice.",
                         ok=False)
        if kind == "unmerge":
            return Reply("This merge is undone already.", ok=False, replace_original=True)
        return Reply("This feedback is logged already.", ok=False, replace_original=True)
    saved.used = True
    session.add(saved)
    return saved


def add_to_card(ctx: Context, actor: Actor, value: str) -> Reply:
    """"Add to this card" on an offer: value is "<draft id>:<card id>"."""
    draft_id, _, card_id = value.partition(":")
    if not (draft_id.isdigit() and card_id.isdigit()):
        return Reply("That button is broken; log the feedback again.", ok=False)
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        saved = _claim_draft(session, person.id, int(draft_id))
        if isinstance(saved, Reply):
            return saved
        if _live_card(session, int(card_id)) is None:
            return Reply(f"There is no card #{card_id}.", ok=False)
        card, _ = _file(session, person.id, Draft(**{**saved.data, "customers": tuple(saved.data["customers"])}),
                        int(card_id))
        reply = _filed_reply(session, card, created=False)
    ctx.texts_arrived()
    return Reply(reply.text, replace_original=True)


def create_new(ctx: Context, actor: Actor, value: str) -> Reply:
    if not value.isdigit():
        return Reply("That button is broken; log the feedback again.", ok=False)
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        saved = _claim_draft(session, person.id, int(value))
        if isinstance(saved, Reply):
            return saved
        card, _ = _file(session, person.id, Draft(**{**saved.data, "customers": tuple(saved.data["customers"])}), None)
        reply = _filed_reply(session, card, created=True)
    ctx.texts_arrived()
    return Reply(reply.text, replace_original=True)


def draft_for_ticket(ctx: Context, ticket_id: int) -> Draft | None:
    """Where a form opened from a ticket starts: its customer filled in, the ticket linked.
    None when there is no such ticket."""
    with ctx.db.transaction(read_only=True) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        who = f"{ticket.customer_name} <{ticket.customer_email}>" if ticket.customer_name else ticket.customer_email
        return Draft(text="", customers=(who,), ticket_id=ticket.id)


# ---------------------------------------------------------------- the tracker


def merge(ctx: Context, actor: Actor, src: int, dst: int, command: str = COMMAND) -> Reply:
    if src == dst:
        return _usage("merge", f"A card cannot be merged into itself (#{src}).", command)
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        a, b = session.get(SuggestionCard, src), session.get(SuggestionCard, dst)
        for number, card in ((src, a), (dst, b)):
            if card is None:
                return _usage("merge", f"There is no card #{number}.", command)
            if card.merged_into_id is not None:
                return _usage("merge", f"#{number} was merged into #{card.merged_into_id} already.", command)
        moved = session.execute(select(SuggestionRequest.id).where(SuggestionRequest.card_id == src)).scalars().all()
        session.execute(SuggestionRequest.__table__.update().where(SuggestionRequest.card_id == src)
                        .values(card_id=dst))
        a.merged_into_id = dst
        session.add(a)
        count = len(_customers_of(session, dst))
        undo = FeedbackDraft(person_id=person.id, data={"kind": "unmerge", "src": src, "dst": dst,
                                                        "requests": list(moved)})
        session.add(undo)
        session.flush()
        repos.suggestions_changed(session, [src, dst])
    return Reply(f"Merged #{src} into #{dst} · {b.title}: {_people(count)}, each counted once.",
                 actions=(Button("Undo", "feedback.unmerge", str(undo.id)),))


def unmerge(ctx: Context, actor: Actor, value: str) -> Reply:
    """"Undo" on a merge: the merged card is its own again, with the requests it had (not those
    added to the other card since)."""
    if not value.isdigit():
        return Reply("That button is broken; merge the cards again to get a new one.", ok=False)
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        saved = session.get(FeedbackDraft, int(value))
        if saved is None or saved.data.get("kind") != "unmerge":
            return Reply("There is no such merge to undo.", ok=False)
        if saved.person_id != person.id or saved.used:
            return _claim_draft(session, person.id, saved.id)  # says why not, changes nothing
        src, dst = saved.data["src"], saved.data["dst"]
        card, into = session.get(SuggestionCard, src), session.get(SuggestionCard, dst)
        if card is None or into is None or card.merged_into_id != dst:
            return Reply(f"#{src} is not merged into #{dst} any more; nothing to undo.", ok=False)
        if into.merged_into_id is not None:
            return Reply(f"#{dst} was merged into #{into.merged_into_id} since: undo that merge first.", ok=False)
        _claim_draft(session, person.id, saved.id)
        session.execute(SuggestionRequest.__table__.update().where(
            SuggestionRequest.id.in_(saved.data["requests"]), SuggestionRequest.card_id == dst).values(card_id=src))
        card.merged_into_id, card.updated_at = None, ctx.now()
        session.add(card)
        session.flush()
        left, back = len(_customers_of(session, dst)), len(_customers_of(session, src))
        repos.suggestions_changed(session, [src, dst])
    return Reply(f"Undone: #{src} · {card.title} is its own card again ({_people(back)}); "
                 f"#{dst} · {into.title} has {_people(left)}.", replace_original=True)


def set_status(ctx: Context, actor: Actor, card_id: int, word: str, message: str = "",
               command: str = COMMAND) -> Reply:
    """new / planned / in_progress take effect at once; shipped / declined first show who will be told."""
    status = STATUS_WORDS.get(re.sub(r"[\s-]+", "_", word.strip().lower()))
    if status is None:
        return _usage("status", f"“{word}” is not a status.", command)
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        card = session.get(SuggestionCard, card_id)
        if card is None:
            return _usage("status", f"There is no card #{card_id}.", command)
        if card.merged_into_id is not None:
            return _usage("status", f"#{card_id} was merged into #{card.merged_into_id}; change that card.", command)
        if status in OUTCOMES:
            return _preview(session, person.id, card, status, message, command)
        card.status, card.updated_at = status, ctx.now()
        session.add(card)
        repos.suggestions_changed(session, [card.id])
    return Reply(f"#{card_id} · {card.title} is now {status_label(status)}.")


def _preview(session, person_id: int, card: SuggestionCard, outcome: str, message: str,
             command: str = COMMAND) -> Reply:
    customers, webhooks, employees, unreachable = _recipients(session, card.id, outcome)
    saved = FeedbackDraft(person_id=person_id, data={"kind": "announce", "card_id": card.id, "outcome": outcome,
                                                     "message": message.strip()})
    session.add(saved)
    session.flush()
    told = [f"email {_count(len(customers), 'customer') or 'no customers'}"]
    if webhooks:
        told.append(f"notify {_count(len(webhooks), 'customer')} through their web form")
    told.append(f"tell {_count(len(employees), 'colleague') or 'no colleagues'} who logged it")
    named = ", ".join(unreachable[:5]) + (f" and {len(unreachable) - 5} more" if len(unreachable) > 5 else "")
    unknown = f" No email for {named}: tell them yourself." if unreachable else ""
    text = (f"Mark #{card.id} · {card.title} as {outcome}? This will {', '.join(told)}.{unknown}\n"
            + (f"Message: “{message.strip()}”" if message.strip() else
               f"No message yet: add one after the status, e.g. `{command} status 7 shipped It's live in "
               "Settings → Export.`"))
    buttons = (Button(f"Confirm: {outcome}", "feedback.announce", str(saved.id), style="primary"),)
    return Reply(text, actions=buttons if message.strip() else ())


def _recipients(session, card_id: int, outcome: str):
    """Who is told of ``outcome``: (customers by email, customers by web form, employees, the names
    of customers with no email to tell them at).

    One notice per customer, however many requests and tickets they have on the card (the same
    customer as in the card's count): through the web form of their latest web-form ticket if they
    came that way, else by email; a customer known only by name cannot be told. Recipients already
    told of this outcome are left out.
    """
    already = {r for (r,) in session.execute(select(SuggestionNotice.recipient).where(
        SuggestionNotice.card_id == card_id, SuggestionNotice.outcome == outcome)).all()}
    people: dict[str, dict] = {}
    employees: set[str] = set()
    for req in session.execute(select(SuggestionRequest).where(SuggestionRequest.card_id == card_id)
                               .order_by(SuggestionRequest.id)).scalars():
        if req.logged_by_id and f"person:{req.logged_by_id}" not in already:
            employees.add(f"person:{req.logged_by_id}")
        ticket = session.get(Ticket, req.ticket_id) if req.ticket_id else None
        who = customer_key(req.customer_email, req.customer_name)
        web = ticket is not None and bool(ticket.reply_url) and customer_key(ticket.customer_email,
                                                                             ticket.customer_name) == who
        if not (who or web):
            continue
        key = f"customer:{who}" if who else f"customer:ticket:{ticket.id}"
        person = people.setdefault(key, {"req": req, "tickets": [], "told_as": set()})
        if req.customer_email:
            person["told_as"].add(f"customer:{req.customer_email}")  # the key before emails were lowercased
        if web:
            person["tickets"].append(ticket)
            person["req"] = req
    customers, webhooks, unreachable = {}, {}, []
    for key, person in people.items():
        # a customer told before under an older key (one per web-form ticket) is not told again
        if key in already or person["told_as"] & already or any(f"webhook:{t.id}" in already
                                                              for t in person["tickets"]):
            continue
        if person["tickets"]:
            webhooks[key] = (max(person["tickets"], key=lambda t: t.id), person["req"])
        elif person["req"].customer_email:
            customers[key] = person["req"]
        else:
            unreachable.append(person["req"].customer_name.strip())
    return customers, webhooks, employees, unreachable


def announce(ctx: Context, actor: Actor, value: str) -> Reply:
    """Confirm a shipped/declined announcement: each recipient is told once, ever, per outcome."""
    if not value.isdigit():
        return Reply("That button is broken; set the status again.", ok=False)
    try:
        with ctx.db.transaction() as session:
            person = repos.person_for(session, actor)
            saved = _claim_draft(session, person.id, int(value))
            if isinstance(saved, Reply):
                return saved
            data = saved.data
            card = session.get(SuggestionCard, data["card_id"])
            card.status, card.announcement, card.updated_at = data["outcome"], data["message"], ctx.now()
            session.add(card)
            customers, webhooks, employees, _ = _recipients(session, card.id, data["outcome"])
            for key in [*customers, *webhooks, *employees]:
                session.add(SuggestionNotice(card_id=card.id, recipient=key, outcome=data["outcome"]))
            session.flush()
            for key, req in customers.items():
                repos.enqueue(session, CUSTOMER_SUGGESTION, {"card_id": card.id, "outcome": data["outcome"],
                                                               "email": req.customer_email, "name": req.customer_name,
                                                               "message": data["message"]},
                              f"customer:suggestion:{card.id}")
            for key, (ticket, req) in webhooks.items():
                repos.enqueue(session, CUSTOMER_SUGGESTION, {"card_id": card.id, "outcome": data["outcome"],
                                                               "email": req.customer_email, "name": req.customer_name,
                                                               "message": data["message"], "ticket_id": ticket.id},
                              f"customer:suggestion:{card.id}")
            for key in employees:
                repos.enqueue(session, "chat.direct", {"person_id": int(key.split(":")[1]),
                                                       "text": f"#{card.id} · {card.title}, which you logged, is "
                                                               f"{data['outcome']}: “{data['message']}”"})
            repos.suggestions_changed(session, [card.id])
            n = (len(customers), len(webhooks), len(employees))
    except IntegrityError:
        return Reply("Someone confirmed this a moment ago; nobody is told twice.", ok=False)
    ctx.wake()
    told = [_count(n[0] + n[1], "customer"), _count(n[2], "colleague")]
    told = [t for t in told if t] or ["nobody new: everyone on the card was told before"]
    return Reply(f"#{card.id} is {data['outcome']}. Telling {' and '.join(told)}.",
                 replace_original=True)


# ---------------------------------------------------------------- reading


def show(ctx: Context, card_id: int, command: str = COMMAND) -> Reply:
    with ctx.db.transaction(read_only=True) as session:
        card = _live_card(session, card_id)
        if card is None:
            return _usage("show", f"There is no card #{card_id}.", command)
        requests = session.execute(select(SuggestionRequest).where(SuggestionRequest.card_id == card.id)
                                   .order_by(SuggestionRequest.id)).scalars().all()
        people = repos.person_refs(session, [r.logged_by_id for r in requests])
        customers = _customers_of(session, card.id)
    lines = [f"#{card.id} · {card.title}", f"Status: {status_label(card.status)}"
             + (f" · {card.department}" if card.department else ""),
             f"Customers ({len(customers)}): " + ", ".join(f"{n} <{e}>" if e and n else (e or n) for e, n in customers)]
    for r in requests:
        who = r.customer_email or r.customer_name or "a customer"
        by = name_of(people.get(r.logged_by_id))
        line = f"• {r.created_at:%Y-%m-%d} {by} logged for {who}" + (f" ({r.importance})" if r.importance else "")
        lines.append(line + (f": “{r.quote}”" if r.quote else f": {r.text}"))
        if r.ticket_id:
            lines.append(f"  from ticket #{r.ticket_id}")
    return Reply("\n".join(lines))


def top(ctx: Context, department: str = "", limit: int = 10, command: str = COMMAND) -> Reply:
    with ctx.db.transaction(read_only=True) as session:
        query = (select(SuggestionCard, SuggestionRequest.customer_email, SuggestionRequest.customer_name)
                 .join(SuggestionRequest, SuggestionRequest.card_id == SuggestionCard.id)
                 .where(SuggestionCard.merged_into_id.is_(None), SuggestionCard.status.not_in(OUTCOMES)))
        if department:
            query = query.where(func.lower(SuggestionCard.department) == department.lower())
        # counted here rather than in SQL so that "the same customer" is customer_key's, as on the card
        # itself (SQLite's lower() folds ASCII only)
        open_cards: dict[int, SuggestionCard] = {}
        who: dict[int, set[str]] = {}
        for card, email, name in session.execute(query).all():
            open_cards[card.id] = card
            key = customer_key(email, name)
            who.setdefault(card.id, set()).update([key] if key else [])
        rows = sorted(((open_cards[i], len(keys)) for i, keys in who.items()), key=lambda r: (-r[1], r[0].id))[:limit]
    if not rows:
        return Reply(f"No open suggestions for {department}. (Feedback that starts with “top”: "
                     f"{command} log top {department})" if department else "No open suggestions.")
    head = f"Top suggestions{' for ' + department if department else ''} (most customers first):"
    return Reply("\n".join([head] + [f"#{c.id} · {c.title} · {status_label(c.status)} · {_people(n)}"
                                     for c, n in rows]))


@may_embed
def search(ctx: Context, words: str, command: str = COMMAND) -> Reply:
    words = words.strip()
    if not words:
        return _usage("search", "Say what to look for.", command)
    with ctx.db.transaction(read_only=True) as session:
        hits = [(cid, score) for cid, score in ctx.suggestions.similar(session, words, k=5)
                if score >= SEARCH_MIN_SCORE]
        like = f"%{words.lower()}%"
        exact = session.execute(select(SuggestionCard.id).where(SuggestionCard.merged_into_id.is_(None),
                                                                or_(func.lower(SuggestionCard.title).like(like)))
                                .limit(5)).scalars().all()
        ids = list(dict.fromkeys([*exact, *[cid for cid, _ in hits]]))[:5]
        cards = [_summary(session, session.get(SuggestionCard, cid)) for cid in ids]
    still = _still_reading(ctx)
    if not cards:
        return Reply(f"Nothing like “{words}” yet." + (f"\n{still}" if still else ""))
    return Reply("\n".join([f"Cards like “{words}”:"] + [
        f"#{c['id']} · {c['title']} · {status_label(c['status'])} · {_people(c['customers'])}" for c in cards]
        + ([still] if still else [])))


# a spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection"):
# "=HYPERLINK(…)" typed by a customer would become a live link, or worse, in an employee's Excel
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value):
    """A text cell a spreadsheet shows as written: a leading ' keeps a formula a string."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def export_csv(ctx: Context) -> str:
    """Every request with its card, one row each: open it in a spreadsheet. Text cells that a
    spreadsheet would run as a formula get a leading ' (customers and employees typed them)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["card", "title", "status", "department", "customer_email", "customer_name", "importance",
                     "request", "quote", "ticket", "logged_by", "logged_at"])
    with ctx.db.transaction(read_only=True) as session:
        rows = session.execute(select(SuggestionRequest, SuggestionCard)
                               .join(SuggestionCard, SuggestionCard.id == SuggestionRequest.card_id)
                               .order_by(SuggestionCard.id, SuggestionRequest.id)).all()
        people = repos.person_refs(session, [r.logged_by_id for r, _ in rows])
    for r, c in rows:
        writer.writerow([inert_cell(cell) for cell in (
            c.id, c.title, c.status, c.department, r.customer_email or "", r.customer_name, r.importance, r.text,
            r.quote, r.ticket_id or "", name_of(people.get(r.logged_by_id)), r.created_at.strftime("%Y-%m-%d %H:%M"))])
    return out.getvalue()


def logged_by(ctx: Context, actor: Actor, limit: int = 10) -> Reply:
    """The cards a person logged feedback on, most recent first, and where each stands now."""
    with ctx.db.transaction(read_only=True) as session:
        person_id = session.execute(select(Identity.person_id).where(
            Identity.platform == actor.platform, Identity.tenant == actor.tenant,
            Identity.user_id == actor.user_id)).scalar()
        latest = func.max(SuggestionRequest.id)
        ids = [] if person_id is None else session.execute(
            select(SuggestionRequest.card_id).where(SuggestionRequest.logged_by_id == person_id)
            .group_by(SuggestionRequest.card_id).order_by(latest.desc()).limit(limit)).scalars().all()
        cards = [_summary(session, session.get(SuggestionCard, cid)) for cid in ids]
    if not cards:
        return Reply("You have not logged any feedback yet.")
    return Reply("\n".join(["Feedback you logged:"] + [
        f"#{c['id']} · {c['title']} · {status_label(c['status'])} · {_people(c['customers'])}" for c in cards]))
