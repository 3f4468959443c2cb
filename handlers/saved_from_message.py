""""Save as reply": an answer an employee sent to a customer becomes a saved reply.

The form opens with the answer's text made general (the customer's and the writer's names, the
customer's address and the ticket's number become variables) and a name suggested from the ticket's
subject; the person checks both before saving. The saved reply remembers the answer it came from.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from handlers import reply_text, saved_replies
from handlers.base import Actor, MessageRef, Reply
from handlers.context import Context
from handlers.saved_replies import Form
from handlers.tickets import source_key
from storage import repos
from storage.models import Person, SavedReply, Ticket, TicketMessage

NOT_A_REPLY = ("Only a reply that went to a customer can be saved as a saved reply, and this message is not one: "
               "use “Save as reply” on an answer written in a ticket's thread, or write a new one with `{prefix}saved "
               "add <name>`.")
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", re.IGNORECASE)


def form_for_message(ctx: Context, actor: Actor, source: MessageRef, prefix: str = "") -> Form | Reply:
    """The add form for the chat message ``source``, when it was an employee's reply to a customer."""
    with ctx.db.transaction(read_only=True) as session:
        message = repos.message_by_key(session, source_key(source))
        if message is None or message.kind != "reply":
            why = " It was an internal note." if message is not None and message.kind == "note" else ""
            return Reply(NOT_A_REPLY.format(prefix=prefix) + why, ok=False)
        person = repos.person_for(session, actor)
        return _form(session, person.id, message)


def form_for_ticket(ctx: Context, actor: Actor, ticket_id: int, prefix: str = "") -> Form | Reply:
    """The add form for a ticket's latest reply to its customer (`saved add <name> from #3`)."""
    with ctx.db.transaction(read_only=True) as session:
        if session.get(Ticket, ticket_id) is None:
            return Reply(f"There is no ticket #{ticket_id}. `{prefix}list` shows the open ones.", ok=False)
        message = session.exec(select(TicketMessage).where(
            TicketMessage.ticket_id == ticket_id, TicketMessage.kind == "reply",
            TicketMessage.delivery_state != "cancelled").order_by(TicketMessage.id.desc())).first()
        if message is None:
            return Reply(f"Nobody has answered the customer of #{ticket_id} yet, so there is no reply to save.",
                         ok=False)
        person = repos.person_for(session, actor)
        return _form(session, person.id, message)


def add_from_ticket(ctx: Context, actor: Actor, name: str, ticket_id: int, mine: bool = False,
                    prefix: str = "") -> Reply:
    found = form_for_ticket(ctx, actor, ticket_id, prefix)
    if isinstance(found, Reply):
        return found
    reply, _ = saved_replies.submit(ctx, actor, Form(name=name, text=found.text, mine=mine,
                                                     source_message_id=found.source_message_id), prefix)
    return reply if not reply.ok else Reply(f"{reply.text}\nFrom the last answer on #{ticket_id}:\n{found.text}")


def _form(session: Session, person_id: int, message: TicketMessage) -> Form:
    ticket = session.get(Ticket, message.ticket_id)
    author = session.get(Person, message.author_person_id) if message.author_person_id else None
    values = reply_text.values_for(ticket.customer_name or "", ticket.customer_email or "",
                                   author.name if author else "", ticket.id, ticket.subject or "")
    return Form(name=_free_name(session, person_id, _suggested_name(ticket.subject or "")),
                text=general(message.text, values), source_message_id=message.id,
                note=(f"From the answer on ticket #{ticket.id}. Names, the address and the ticket number became "
                      "variables: check the text before saving."))


def general(text: str, values: dict[str, str]) -> str:
    """The text of one answer made fit for any customer: the values of this ticket become variables."""
    swaps = [("customer.email", "{customer.email}"), ("customer.name", "{customer.name}"),
             ("customer.first_name", "{customer.first_name|there}"), ("me.name", "{me.name}"),
             ("me.first_name", "{me.first_name}")]
    for name, variable in swaps:
        value = values.get(name, "")
        one_word = name.endswith(".name") and value == values.get(name.replace(".name", ".first_name"))
        if len(value) >= 2 and not one_word:  # a one-word name is the first name, with its fallback
            text = re.sub(rf"(?<![\w@.]){re.escape(value)}(?![\w@])", variable, text)
    number = values.get("ticket.number")
    if number:
        text = re.sub(rf"#{re.escape(number)}\b", "#{ticket.number}", text)
    return text


def _suggested_name(subject: str) -> str:
    name = saved_replies.clean_name(_SUBJECT_PREFIX.sub("", subject)) or "Answer"
    if len(name) > saved_replies.NAME_LIMIT:
        name = name[: saved_replies.NAME_LIMIT].rsplit(" ", 1)[0]
    return name


def _free_name(session: Session, person_id: int, name: str) -> str:
    """``name``, or "name 2", "name 3" … when the person already has a reply called so."""
    taken = {r.name_key for r in saved_replies.available(session, person_id)}
    taken |= {k for (k,) in session.execute(select(SavedReply.name_key).where(
        SavedReply.scope == saved_replies.TEAM, SavedReply.removed_at.is_(None))).all()}
    candidate, n = name, 2
    while saved_replies.name_key(candidate) in taken:
        candidate = f"{name[: saved_replies.NAME_LIMIT - 4]} {n}"
        n += 1
    return candidate
