"""Tickets: intake, claim, unclaim, close, reopen, answer, undo. Written once for every platform.

Every verb is one short database transaction. Work outside the database (posting to chat, mailing
the customer) is written to the outbox in that same transaction and done by bot/delivery.py, so a
crash or an outage delays it but never loses or doubles it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta, timezone

from sqlalchemy.exc import IntegrityError

from handlers.base import (
    Actor,
    Button,
    InboundMessage,
    IntakeResult,
    MessageRef,
    PersonRef,
    Reply,
    ThreadRef,
)
from handlers import floods, message_ids, reply_text
from handlers.cards import ticket_state
from handlers.context import Context
from handlers.outbound import (CHAT_CUSTOMER_MESSAGE, CHAT_NOTICE, CHAT_POST_TICKET, CHAT_UPDATE_TICKET, CUSTOMER_REPLY,
                               customer_key, name_of, ref_dict, to_chat, where_to)
from storage import repos
from storage.models import Ticket, TicketMessage

NOTE_PREFIX = "note:"
IGNORED_AUTO_REPLY = "auto-reply"

log = logging.getLogger("pitchin.tickets")


# ---------------------------------------------------------------- intake


def intake(ctx: Context, msg: InboundMessage) -> IntakeResult:
    """Store a customer's message: a follow-up joins its ticket, anything else opens a new one.
    Idempotent on the message's external key (Message-ID / external_id).

    An automatic reply (``msg.auto_reply``) joins its ticket's thread without reopening it, and is
    dropped when it answers no ticket: it never opens one, so two robots cannot mail each other
    forever. A sender who opened too many tickets lately is folded into their latest (floods.py)."""
    try:
        result = _intake(ctx, msg)
    except IntegrityError:
        # the same message arrived twice at the same moment; the other one stored it
        with ctx.db.transaction() as session:
            existing = repos.message_by_key(session, msg.external_key)
            if existing is None:
                raise
            result = IntakeResult(existing.ticket_id, existing.id, new_ticket=False, duplicate=True)
    if result.ignored:
        log.info("ignored a mail from %s: %s", msg.sender_email, result.reason)
    elif not result.duplicate:
        if result.folded:
            log.info("folded a mail from %s into #%s: %s", msg.sender_email, result.ticket_id, result.reason)
        ctx.wake()
        if not msg.auto_reply:  # its vector is computed a moment later, off this thread (message_vectors)
            ctx.texts_arrived()
    return result


def _intake(ctx: Context, msg: InboundMessage) -> IntakeResult:
    if msg.received_at.tzinfo is None:  # a naive time from an adapter is UTC
        msg = replace(msg, received_at=msg.received_at.replace(tzinfo=timezone.utc))
    with ctx.db.transaction() as session:
        existing = repos.message_by_key(session, msg.external_key)
        if existing is not None:
            return IntakeResult(existing.ticket_id, existing.id, new_ticket=False, duplicate=True)

        ticket = repos.ticket_for_followup(session, msg.sender_email, msg.in_reply_to)
        if ticket is None and msg.auto_reply:
            return IntakeResult(None, None, new_ticket=False, ignored=IGNORED_AUTO_REPLY,
                                reason=f"an automatic reply ({msg.auto_reply}) that answers no ticket; "
                                       "automatic mail never opens one")
        folded = False
        if ticket is None:
            ticket = floods.fold_target(session, msg)
            folded = ticket is not None
        new_ticket = ticket is None
        if new_ticket:
            ticket = Ticket(
                subject=msg.subject,
                customer_email=msg.sender_email,
                customer_name=msg.sender_name,
                source=msg.source,
                reply_url=msg.reply_url,
                external_id=msg.external_key.split(":", 1)[1] if msg.source == "web" else None,
                created_at=msg.received_at,
                last_customer_at=msg.received_at,
            )
            session.add(ticket)
            session.flush()
        message = TicketMessage(
            ticket_id=ticket.id,
            kind="auto" if msg.auto_reply else "customer",
            text=msg.text,
            external_key=msg.external_key,
            email_message_id=msg.email_message_id,
            attachments=[{"filename": a.filename, "size": a.size, "content_type": a.content_type} for a in msg.attachments],
            dmarc_failed=msg.dmarc_failed,
            created_at=msg.received_at,
        )
        session.add(message)
        session.flush()

        if new_ticket:
            to_chat(ctx, session, CHAT_POST_TICKET, ticket.id)
            return IntakeResult(ticket.id, message.id, new_ticket=True)
        if msg.auto_reply:  # shown in the thread; the ticket stays as it is
            to_chat(ctx, session, CHAT_NOTICE, ticket.id,
                    text=f"🤖 An automatic reply came in ({msg.auto_reply}); the ticket stays as it is:\n{msg.text}")
            return IntakeResult(ticket.id, message.id, new_ticket=False)
        reopened = repos.try_reopen(session, ticket.id)
        ticket.last_customer_at = msg.received_at
        session.add(ticket)
        if folded:
            floods.queue_fold_notice(ctx, session, ticket, msg)
        else:
            to_chat(ctx, session, CHAT_CUSTOMER_MESSAGE, ticket.id, message_id=message.id, reopened=reopened)
        if reopened:
            to_chat(ctx, session, CHAT_UPDATE_TICKET, ticket.id)
        reason = f"{msg.sender_email} opened more than {floods.MAX_NEW_TICKETS} tickets in an hour" if folded else None
        return IntakeResult(ticket.id, message.id, new_ticket=False, folded=folded, reason=reason)


# ---------------------------------------------------------------- claim, unclaim, close, reopen


def _unknown(ticket_id: int) -> Reply:
    return Reply(f"There is no ticket #{ticket_id}. `list` shows the open ones.", ok=False)


def claim(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        if session.get(Ticket, ticket_id) is None:
            return _unknown(ticket_id)
        if repos.try_claim(session, ticket_id, person.id):
            to_chat(ctx, session, CHAT_UPDATE_TICKET, ticket_id)
            won = True
        else:
            won = False
            ticket = repos.fresh_ticket(session, ticket_id)
            holder = repos.person_refs(session, [ticket.claimed_by_id]).get(ticket.claimed_by_id)
    if won:
        ctx.wake()
        return Reply(f"You claimed #{ticket_id}. Answer in its thread; start with `note:` to keep a message internal.")
    if ticket.status == "closed":
        return Reply(f"#{ticket_id} is closed. Reopen it first if the customer still needs an answer.", ok=False)
    if ticket.claimed_by_id == person.id:
        return Reply(f"You already have #{ticket_id}.", ok=False)
    return Reply(
        f"#{ticket_id} is already claimed by {name_of(holder)}.",
        ok=False,
        rich=(f"#{ticket_id} is already claimed by ", holder or PersonRef("someone"), "."),
    )


def unclaim(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        if session.get(Ticket, ticket_id) is None:
            return _unknown(ticket_id)
        done = repos.try_unclaim(session, ticket_id, person.id)
        if done:
            to_chat(ctx, session, CHAT_UPDATE_TICKET, ticket_id)
        else:
            ticket = repos.fresh_ticket(session, ticket_id)
            holder = repos.person_refs(session, [ticket.claimed_by_id]).get(ticket.claimed_by_id)
    if done:
        ctx.wake()
        return Reply(f"You let go of #{ticket_id}; anyone can claim it now.")
    if ticket.claimed_by_id is None:
        return Reply(f"Nobody has claimed #{ticket_id}.", ok=False)
    return Reply(
        f"#{ticket_id} is claimed by {name_of(holder)}; only they can unclaim it.",
        ok=False,
        rich=(f"#{ticket_id} is claimed by ", holder, "; only they can unclaim it."),
    )


def close(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        if session.get(Ticket, ticket_id) is None:
            return _unknown(ticket_id)
        done = repos.try_close(session, ticket_id, person.id, ctx.now())
        if done:
            to_chat(ctx, session, CHAT_UPDATE_TICKET, ticket_id)
        else:
            ticket = repos.fresh_ticket(session, ticket_id)
            closer = repos.person_refs(session, [ticket.closed_by_id]).get(ticket.closed_by_id)
    if done:
        ctx.wake()
        return Reply(f"You closed #{ticket_id}. If the customer writes again it reopens by itself.")
    return Reply(
        f"#{ticket_id} is already closed by {name_of(closer)}.",
        ok=False,
        rich=(f"#{ticket_id} is already closed by ", closer or PersonRef("someone"), "."),
    )


def reopen(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    with ctx.db.transaction() as session:
        repos.person_for(session, actor)
        if session.get(Ticket, ticket_id) is None:
            return _unknown(ticket_id)
        done = repos.try_reopen(session, ticket_id)
        if done:
            to_chat(ctx, session, CHAT_UPDATE_TICKET, ticket_id)
    if done:
        ctx.wake()
        return Reply(f"You reopened #{ticket_id}.")
    return Reply(f"#{ticket_id} is already open.", ok=False)


# ---------------------------------------------------------------- answering in the thread


def ticket_in_thread(ctx: Context, thread: ThreadRef) -> int | None:
    """The ticket whose thread this is, if any (adapters check before looking up who wrote)."""
    with ctx.db.transaction(read_only=True) as session:
        return repos.ticket_for_thread(session, thread)


def thread_reply(ctx: Context, actor: Actor, thread: ThreadRef, source: MessageRef, text: str) -> Reply | None:
    """A person wrote in a thread. None when it is not a ticket's thread or was seen before."""
    ticket_id = ticket_in_thread(ctx, thread)
    if ticket_id is None:
        return None
    return answer(ctx, actor, ticket_id, text, source)


def source_key(source: MessageRef) -> str:
    return f"{source.platform}:{source.tenant}:{source.channel}:{source.message_id}"


def answer(ctx: Context, actor: Actor, ticket_id: int, text: str, source: MessageRef, internal: bool = False) -> Reply | None:
    """An employee's message on a ticket: to the customer (after the undo window) or internal.

    Returns None for a message already handled (a platform's retried event)."""
    text = text.strip()
    if text[: len(NOTE_PREFIX)].lower() == NOTE_PREFIX:
        internal, text = True, text[len(NOTE_PREFIX):].strip()
    key = source_key(source)
    ref = ref_dict(source)
    kept, why = internal, None  # kept internal, and what the writer is told about it
    try:
        with ctx.db.transaction() as session:
            if repos.message_by_key(session, key) is not None:
                return None
            person = repos.person_for(session, actor)
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                return _unknown(ticket_id)
            claimed_now = False
            if kept:
                pass
            elif not text:
                kept, why = True, "Only text reaches the customer; this message was kept internal."
            elif ticket.status == "closed":
                kept, why = True, f"#{ticket_id} is closed, so this stayed internal. Reopen it to answer the customer."
            elif reply_text.placeholders(text):  # a saved reply with [[…]] left to fill in: nothing half-written goes out
                kept, why = True, (reply_text.unfilled_message(reply_text.placeholders(text)) +
                                   " Your message stays in the thread as an internal note.")
            else:
                if ticket.claimed_by_id is None:
                    claimed_now = repos.try_claim(session, ticket_id, person.id)
                    ticket = repos.fresh_ticket(session, ticket_id)
                if ticket.claimed_by_id != person.id:
                    holder = repos.person_refs(session, [ticket.claimed_by_id]).get(ticket.claimed_by_id)
                    kept, why = True, (f"Kept internal: #{ticket_id} is claimed by {name_of(holder)}, and only they "
                                       "answer the customer. Start a message with `note:` to write internal notes on purpose.")
            if kept:
                session.add(TicketMessage(ticket_id=ticket_id, kind="note", author_person_id=person.id, text=text,
                                          external_key=key, chat_ref=ref))
                # people on the other platforms see the note in their thread
                to_chat(ctx, session, CHAT_NOTICE, ticket_id, skip=source.platform,
                         text=f"📝 {person.name} (internal): {text}" if text else f"📝 {person.name} wrote an internal note.")
            else:
                reply = TicketMessage(ticket_id=ticket_id, kind="reply", author_person_id=person.id, text=text,
                                      external_key=key, chat_ref=ref, delivery_state="pending",
                                      email_message_id=message_ids.make(ctx.mail_domain))
                session.add(reply)
                session.flush()
                job = repos.enqueue(session, CUSTOMER_REPLY, {"reply_id": reply.id}, customer_key(ticket_id),
                                    run_after=ctx.now() + timedelta(seconds=ctx.undo_seconds))
                reply.delivery_job_id = job.id
                session.add(reply)
                if claimed_now:
                    to_chat(ctx, session, CHAT_UPDATE_TICKET, ticket_id)
                reply_id = reply.id
    except IntegrityError:
        return None  # the same platform message, handled a moment ago by a concurrent retry
    ctx.wake()
    if kept:
        return Reply(why, ok=False) if why else None
    claimed = f"You claimed #{ticket_id}. " if claimed_now else ""
    return Reply(
        f"{claimed}Sending to {ticket.customer_email} {where_to(ticket)} in {ctx.undo_seconds:g} s.",
        actions=(Button("Undo", "reply.undo", str(reply_id), style="danger"),),
        delivery_of=reply_id,
    )


def undo_reply(ctx: Context, actor: Actor, reply_id: int) -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        reply = session.get(TicketMessage, reply_id, with_for_update=True)
        if reply is None or reply.kind != "reply":
            return Reply("That reply no longer exists.", ok=False, replace_original=True)
        if reply.author_person_id != person.id:
            return Reply("Only the person who wrote a reply can take it back.", ok=False)
        if reply.delivery_state == "cancelled":
            return Reply("Already taken back: the customer never saw it.", replace_original=True)
        if reply.delivery_state == "sent" or not repos.cancel_job(session, reply.delivery_job_id, ctx.now()):
            return Reply("Too late: that reply has already gone to the customer.", ok=False, replace_original=True)
        reply.delivery_state = "cancelled"
        session.add(reply)
        repos.withdraw_saved_use(session, reply.id)  # a saved reply's use and example go with it
    return Reply("Taken back: the customer will not get it. Your message stays in the thread as a note.",
                 replace_original=True)


def list_open(ctx: Context, actor: Actor | None = None, limit: int = 20) -> Reply:
    from sqlalchemy import select

    with ctx.db.transaction(read_only=True) as session:
        rows = [t for (t,) in session.execute(
            select(Ticket).where(Ticket.status == "open").order_by(Ticket.id.desc()).limit(limit)).all()]
        people = repos.person_refs(session, [t.claimed_by_id for t in rows])
    if not rows:
        return Reply("No open tickets. 🎉")
    lines = []
    for t in reversed(rows):
        who = f"claimed by {people[t.claimed_by_id].name}" if t.claimed_by_id else "unclaimed"
        lines.append(f"#{t.id} · {t.subject} · {t.customer_email} · {who}")
    return Reply("Open tickets:\n" + "\n".join(lines))


__all__ = ["intake", "claim", "unclaim", "close", "reopen", "ticket_in_thread", "thread_reply", "answer",
           "undo_reply", "list_open", "ticket_state"]
