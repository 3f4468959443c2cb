"""Floods: one sender opening ticket after ticket (a mail loop, a script, an angry customer).

Up to ``MAX_NEW_TICKETS`` new tickets from one sender in ``WINDOW`` open as usual; further mails
join the sender's latest open ticket ("folded") instead of each posting a new card: a burst of
10,000 mails once queued 9,000 channel posts behind Slack's one message a second.

A folded mail costs no chat post of its own: it is added to a "Folded: …" notice that is still
waiting in the ticket's queue, which goes out ``BATCH_SECONDS`` after the first mail it lists, so
a burst becomes about one thread post per ``BATCH_SECONDS`` however many mails it carries. Every
mail is stored with the ticket.
"""

from __future__ import annotations

from datetime import timedelta

from handlers.base import InboundMessage
from handlers.context import Context
from handlers.outbound import CHAT_NOTICE, chat_key
from storage import repos
from storage.models import Ticket

MAX_NEW_TICKETS = 5
WINDOW = timedelta(hours=1)
BATCH_SECONDS = 10
SHOWN = 10  # mails quoted in one notice; the others are counted
QUOTE_CHARS = 300


def fold_target(session, msg: InboundMessage) -> Ticket | None:
    """The ticket a new mail joins because its sender opened too many lately, or None."""
    if repos.tickets_opened_since(session, msg.sender_email, msg.received_at - WINDOW) < MAX_NEW_TICKETS:
        return None
    return repos.latest_ticket_of(session, msg.sender_email)


def queue_fold_notice(ctx: Context, session, ticket: Ticket, msg: InboundMessage) -> None:
    """Tell each platform's thread that this mail was folded into ``ticket``: added to the notice
    still waiting there, or a new one."""
    quote = {"subject": msg.subject, "text": _cut(msg.text)}
    for platform in ctx.platforms:
        key = chat_key(platform, ticket.id)
        job = repos.last_job_if_waiting(session, key)
        fold = (job.payload.get("fold") if job is not None and job.kind == CHAT_NOTICE else None)
        if fold is not None:
            fold = {**fold, "count": fold["count"] + 1, "shown": (fold["shown"] + [quote])[:SHOWN]}
            job.payload = {**job.payload, "fold": fold, "text": fold_text(msg.sender_email, ticket.id, fold)}
            session.add(job)
            continue
        fold = {"count": 1, "shown": [quote]}
        repos.enqueue(session, CHAT_NOTICE,
                      {"platform": platform, "ticket_id": ticket.id, "fold": fold,
                       "text": fold_text(msg.sender_email, ticket.id, fold)},
                      key, run_after=ctx.now() + timedelta(seconds=BATCH_SECONDS), flush=False)


def fold_text(sender: str, ticket_id: int, fold: dict) -> str:
    count = fold["count"]
    joined = "this one joined" if count == 1 else f"these {count:,} mails joined"
    lines = [f"Folded: {sender} opened more than {MAX_NEW_TICKETS} tickets in an hour; {joined} #{ticket_id}."]
    for quote in fold["shown"]:
        lines.append(f"📨 {quote['subject']}\n{quote['text']}")
    if count > len(fold["shown"]):
        lines.append(f"…and {count - len(fold['shown']):,} more, stored with the ticket.")
    return "\n\n".join(lines)


def _cut(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"
