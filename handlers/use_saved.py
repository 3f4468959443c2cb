"""Use a saved reply: offer the three closest to the customer's message, filled in, to the person who
asked; send the one they chose (after their edits) through the normal reply path.

Three steps, so that each door can show a private choice in its own way (a Slack modal, a Teams
dialog, a numbered question in the console) and post in the thread itself:

1. ``offer``: the options, filled in with ``reply_text.fill`` for this ticket and this person.
2. ``prepare``: the chosen text checked (placeholders, the ticket, the thread) before anything is
   posted; it gives the line the door posts in the ticket's thread ("Ann (saved reply “Refund”): …").
3. ``send``: with that posted message as the source, ``tickets.answer`` does what it does for any
   reply typed in the thread (claim rules, the undo window, the outbox, the ✅); then the saved reply
   counts the use and learns the customer's message (handlers/saved_match.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers import reply_text, saved_match, tickets
from handlers.base import Actor, MessageRef, Reply, ThreadRef
from handlers.cards import USE_SAVED_REPLY
from handlers.context import Context
from storage import repos
from storage.models import SavedReply, Ticket, TicketMessage

USE_SAVED = USE_SAVED_REPLY  # the ticket card's "Use a saved reply" button; its value is the ticket id
NONE_YET = ("There are no saved replies yet. Add one with `saved add <name>` (add `--mine` to keep it to "
            "yourself), then use it here.")


@dataclass(frozen=True)
class Option:
    saved_reply_id: int
    name: str
    text: str  # filled in for this ticket and this person
    placeholders: tuple[str, ...]  # what is left for the person to fill in


@dataclass(frozen=True)
class Offer:
    ticket_id: int
    title: str  # "#7 · Card not arrived"
    options: tuple[Option, ...]  # best first


def _unknown(ticket_id: int) -> Reply:
    return Reply(f"There is no ticket #{ticket_id}. Check the number (`list` shows the open tickets).", ok=False)


def offer(ctx: Context, actor: Actor, ticket_id: int) -> Offer | Reply:
    """The saved replies closest to the ticket's customer message, filled in; a Reply says why not."""
    with ctx.db.transaction() as session:  # person_for may add the person on first sight
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return _unknown(ticket_id)
        person = repos.person_for(session, actor)
        person_id, title = person.id, f"#{ticket.id} · {ticket.subject}"
        values = reply_text.values_for(ticket.customer_name or "", ticket.customer_email or "", person.name,
                                       ticket.id, ticket.subject or "")
    matches = saved_match.closest_replies(ctx, person_id, ticket_id)
    if not matches:
        return Reply(NONE_YET, ok=False)
    options = []
    for match in matches:
        filled = reply_text.fill(match.reply.text, values)
        options.append(Option(match.reply.id, match.reply.name, filled.text, filled.placeholders))
    return Offer(ticket_id, title, tuple(options))


offer.may_embed = True  # the customer's message or an edited reply may need the local model


@dataclass(frozen=True)
class Ready:
    """What the door posts in the ticket's thread, and where."""

    line: str  # "Ann (saved reply “Refund”): …"
    thread: ThreadRef | None  # the ticket's thread on the door's platform (None: it has none there)


def prepare(ctx: Context, actor: Actor, ticket_id: int, saved_reply_id: int, text: str,
            platform: str) -> Ready | Reply:
    """Check the chosen, edited text before anything is posted: a Reply says why it cannot go."""
    text = (text or "").strip()
    if not text:
        return Reply("Not sent: the reply is empty. Write what the customer should read.", ok=False)
    left = reply_text.placeholders(text)
    if left:
        return Reply(reply_text.unfilled_message(left), ok=False)
    with ctx.db.transaction() as session:  # person_for may add the person on first sight
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return _unknown(ticket_id)
        saved = session.get(SavedReply, saved_reply_id)
        person = repos.person_for(session, actor)
        anchor = repos.anchor_for(session, ticket_id, platform)
        name = saved.name if saved is not None else "removed since"
        thread = ThreadRef(anchor.platform, anchor.tenant, anchor.channel, anchor.thread_id) if anchor else None
        return Ready(f"{person.name} (saved reply “{name}”): {text}", thread)


def send(ctx: Context, actor: Actor, ticket_id: int, saved_reply_id: int, text: str,
         source: MessageRef) -> Reply | None:
    """The posted message ``source`` is the person's reply: the normal path from here on."""
    text = (text or "").strip()
    left = reply_text.placeholders(text)
    if left:  # the door checked already; a second look costs nothing
        return Reply(reply_text.unfilled_message(left), ok=False)
    reply = tickets.answer(ctx, actor, ticket_id, text, source=source)
    if reply is not None and reply.delivery_of is not None:  # it goes to the customer: a use, and an example
        with ctx.db.transaction() as session:
            # the reply's row is locked as Undo locks it: an Undo in between either comes first (and
            # nothing is learnt) or waits and finds the use to take back
            sent = session.get(TicketMessage, reply.delivery_of, with_for_update=True)
            saved = session.get(SavedReply, saved_reply_id)
            if saved is not None and sent is not None and sent.delivery_state != "cancelled":
                saved.uses += 1
                session.add(saved)
                saved_match.learn(session, saved.id, ticket_id, sent.id, ctx.now())
    return reply
