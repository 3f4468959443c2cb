"""Tickets: intake, claim, unclaim, close, reopen, answer, undo. Written once for every platform.

Every verb is one short database transaction. Work outside the database (posting to chat, mailing
the customer) is written to the outbox in that same transaction and done by bot/delivery.py, so a
crash or an outage delays it but never loses or doubles it.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta, timezone

from sqlalchemy.exc import IntegrityError

from handlers.base import (
    Actor,
    Button,
    InboundMessage,
    IntakeResult,
    MessageRef,
    OutgoingReply,
    PersonRef,
    Reply,
    ThreadRef,
)
from handlers.cards import ticket_card, ticket_state
from handlers.context import Context
from storage import repos
from storage.models import ThreadAnchor, Ticket, TicketMessage

NOTE_PREFIX = "note:"


def chat_key(platform: str, ticket_id: int) -> str:
    return f"chat:{platform}:ticket:{ticket_id}"


def customer_key(ticket_id: int) -> str:
    return f"customer:ticket:{ticket_id}"


def _to_chat(ctx: Context, session, kind: str, ticket_id: int, skip: str | None = None, **payload) -> None:
    """Queue a chat job on every platform (but ``skip``, where the thing happened and is seen already)."""
    for platform in ctx.platforms:
        if platform != skip:
            repos.enqueue(session, kind, {"platform": platform, "ticket_id": ticket_id, **payload},
                          chat_key(platform, ticket_id))


# ---------------------------------------------------------------- intake


def intake(ctx: Context, msg: InboundMessage) -> IntakeResult:
    """Store a customer's message: a follow-up joins its ticket, anything else opens a new one.
    Idempotent on the message's external key (Message-ID / external_id)."""
    try:
        result = _intake(ctx, msg)
    except IntegrityError:
        # the same message arrived twice at the same moment; the other one stored it
        with ctx.db.transaction() as session:
            existing = repos.message_by_key(session, msg.external_key)
            if existing is None:
                raise
            result = IntakeResult(existing.ticket_id, existing.id, new_ticket=False, duplicate=True)
    if not result.duplicate:
        ctx.wake()
    return result


def _intake(ctx: Context, msg: InboundMessage) -> IntakeResult:
    if msg.received_at.tzinfo is None:  # a naive time from an adapter is UTC
        msg = replace(msg, received_at=msg.received_at.replace(tzinfo=timezone.utc))
    with ctx.db.transaction() as session:
        existing = repos.message_by_key(session, msg.external_key)
        if existing is not None:
            return IntakeResult(existing.ticket_id, existing.id, new_ticket=False, duplicate=True)

        ticket = repos.ticket_for_followup(session, msg.sender_email, msg.in_reply_to)
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
            kind="customer",
            text=msg.text,
            external_key=msg.external_key,
            email_message_id=msg.email_message_id,
            attachments=[{"filename": a.filename, "size": a.size, "content_type": a.content_type} for a in msg.attachments],
            created_at=msg.received_at,
        )
        session.add(message)
        session.flush()

        if new_ticket:
            _to_chat(ctx, session, "chat.post_ticket", ticket.id)
        else:
            reopened = repos.try_reopen(session, ticket.id)
            ticket.last_customer_at = msg.received_at
            session.add(ticket)
            _to_chat(ctx, session, "chat.customer_message", ticket.id, message_id=message.id, reopened=reopened)
            if reopened:
                _to_chat(ctx, session, "chat.update_ticket", ticket.id)
        return IntakeResult(ticket.id, message.id, new_ticket=new_ticket)


# ---------------------------------------------------------------- claim, unclaim, close, reopen


def _unknown(ticket_id: int) -> Reply:
    return Reply(f"There is no ticket #{ticket_id}. `list` shows the open ones.", ok=False)


def _name(ref: PersonRef | None) -> str:
    return ref.name if ref else "someone"


def claim(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        if session.get(Ticket, ticket_id) is None:
            return _unknown(ticket_id)
        if repos.try_claim(session, ticket_id, person.id):
            _to_chat(ctx, session, "chat.update_ticket", ticket_id)
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
        f"#{ticket_id} is already claimed by {_name(holder)}.",
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
            _to_chat(ctx, session, "chat.update_ticket", ticket_id)
        else:
            ticket = repos.fresh_ticket(session, ticket_id)
            holder = repos.person_refs(session, [ticket.claimed_by_id]).get(ticket.claimed_by_id)
    if done:
        ctx.wake()
        return Reply(f"You let go of #{ticket_id}; anyone can claim it now.")
    if ticket.claimed_by_id is None:
        return Reply(f"Nobody has claimed #{ticket_id}.", ok=False)
    return Reply(
        f"#{ticket_id} is claimed by {_name(holder)}; only they can unclaim it.",
        ok=False,
        rich=(f"#{ticket_id} is claimed by ", holder, "; only they can unclaim it."),
    )


def close(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        if session.get(Ticket, ticket_id) is None:
            return _unknown(ticket_id)
        done = repos.try_close(session, ticket_id, person.id)
        if done:
            _to_chat(ctx, session, "chat.update_ticket", ticket_id)
        else:
            ticket = repos.fresh_ticket(session, ticket_id)
            closer = repos.person_refs(session, [ticket.closed_by_id]).get(ticket.closed_by_id)
    if done:
        ctx.wake()
        return Reply(f"You closed #{ticket_id}. If the customer writes again it reopens by itself.")
    return Reply(
        f"#{ticket_id} is already closed by {_name(closer)}.",
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
            _to_chat(ctx, session, "chat.update_ticket", ticket_id)
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
    ref = _ref_dict(source)
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
            else:
                if ticket.claimed_by_id is None:
                    claimed_now = repos.try_claim(session, ticket_id, person.id)
                    ticket = repos.fresh_ticket(session, ticket_id)
                if ticket.claimed_by_id != person.id:
                    holder = repos.person_refs(session, [ticket.claimed_by_id]).get(ticket.claimed_by_id)
                    kept, why = True, (f"Kept internal: #{ticket_id} is claimed by {_name(holder)}, and only they "
                                       "answer the customer. Start a message with `note:` to write internal notes on purpose.")
            if kept:
                session.add(TicketMessage(ticket_id=ticket_id, kind="note", author_person_id=person.id, text=text,
                                          external_key=key, chat_ref=ref))
                # people on the other platforms see the note in their thread
                _to_chat(ctx, session, "chat.notice", ticket_id, skip=source.platform,
                         text=f"📝 {person.name} (internal): {text}" if text else f"📝 {person.name} wrote an internal note.")
            else:
                reply = TicketMessage(ticket_id=ticket_id, kind="reply", author_person_id=person.id, text=text,
                                      external_key=key, chat_ref=ref, delivery_state="pending",
                                      email_message_id=f"<pitchin.{uuid.uuid4().hex}@{ctx.mail_domain}>")
                session.add(reply)
                session.flush()
                job = repos.enqueue(session, "customer.reply", {"reply_id": reply.id}, customer_key(ticket_id),
                                    run_after=ctx.now() + timedelta(seconds=ctx.undo_seconds))
                reply.delivery_job_id = job.id
                session.add(reply)
                if claimed_now:
                    _to_chat(ctx, session, "chat.update_ticket", ticket_id)
                reply_id = reply.id
    except IntegrityError:
        return None  # the same platform message, handled a moment ago by a concurrent retry
    ctx.wake()
    if kept:
        return Reply(why, ok=False) if why else None
    claimed = f"You claimed #{ticket_id}. " if claimed_now else ""
    return Reply(
        f"{claimed}Sending to {ticket.customer_email} {_where(ticket)} in {ctx.undo_seconds:g} s.",
        actions=(Button("Undo", "reply.undo", str(reply_id), style="danger"),),
        delivery_of=reply_id,
    )


def _where(ticket: Ticket) -> str:
    return "by email" if ticket.reply_url is None else "to the web form"


def _ref_dict(ref: MessageRef) -> dict:
    return {"platform": ref.platform, "tenant": ref.tenant, "channel": ref.channel, "message_id": ref.message_id,
            "thread_id": ref.thread_id}


def keep_receipt(ctx: Context, reply_id: int, receipt: MessageRef) -> None:
    """Remember Pitchin's own note about a reply (the Undo card a platform posted), so that the
    delivery is shown by redrawing it. When the reply went out before the note was posted, the
    note is redrawn at once."""
    with ctx.db.transaction() as session:
        reply = session.get(TicketMessage, reply_id)
        if reply is None or reply.kind != "reply":
            return
        reply.receipt_ref = _ref_dict(receipt)
        session.add(reply)
        ticket = session.get(Ticket, reply.ticket_id)
        if reply.delivery_state == "sent":
            _mark(session, reply, "sent", f"✅ Sent to {ticket.customer_email} {_where(ticket)}.")
        elif reply.delivery_error:
            state = "gave_up" if reply.delivery_state == "failed" else "failed"
            _mark(session, reply, state, _failure_text(ticket, reply.delivery_error, state == "gave_up"))
        else:
            return
    ctx.wake()


def undo_reply(ctx: Context, actor: Actor, reply_id: int) -> Reply:
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        reply = session.get(TicketMessage, reply_id)
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
    return Reply("Taken back: the customer will not get it. Your message stays in the thread as a note.",
                 replace_original=True)


# ---------------------------------------------------------------- for the delivery worker


def card_for(ctx: Context, ticket_id: int):
    with ctx.db.transaction(read_only=True) as session:
        return _card(session, ticket_id)


def _card(session, ticket_id: int):
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    first = repos.first_customer_message(session, ticket_id)
    people = repos.person_refs(session, [ticket.claimed_by_id, ticket.closed_by_id])
    return ticket_card(ticket, first.text if first else "", first.attachments if first else [], people)


def full_text(ctx: Context, ticket_id: int, message_id: int | None = None) -> str:
    with ctx.db.transaction(read_only=True) as session:
        messages = repos.conversation(session, ticket_id)
    for m in messages:
        if m.kind == "customer" and (message_id is None or m.id == message_id):
            return m.text
    return ""


def outgoing_reply(ctx: Context, reply_id: int) -> OutgoingReply | None:
    """The reply as it goes out, threaded on everything said in the ticket so far."""
    with ctx.db.transaction(read_only=True) as session:
        reply = session.get(TicketMessage, reply_id)
        if reply is None or reply.delivery_state in ("cancelled", "sent"):
            return None
        ticket = session.get(Ticket, reply.ticket_id)
        author = repos.person_refs(session, [reply.author_person_id]).get(reply.author_person_id)
        earlier = [m for m in repos.conversation(session, ticket.id) if m.id < reply.id and m.email_message_id
                   and (m.kind == "customer" or m.delivery_state == "sent")]
    last_customer = next((m for m in reversed(earlier) if m.kind == "customer"), None)
    subject = ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
    return OutgoingReply(
        ticket_id=ticket.id,
        reply_id=reply.id,
        to_email=ticket.customer_email,
        to_name=ticket.customer_name,
        subject=subject,
        text=reply.text,
        author_name=_name(author),
        message_id=reply.email_message_id,
        in_reply_to=last_customer.email_message_id if last_customer else None,
        references=tuple(m.email_message_id for m in earlier)[-20:],
        reply_url=ticket.reply_url,
        external_id=ticket.external_id,
    )


def reply_delivered(ctx: Context, reply_id: int, had_failed: bool) -> None:
    with ctx.db.transaction() as session:
        reply = session.get(TicketMessage, reply_id)
        ticket = session.get(Ticket, reply.ticket_id)
        reply.delivery_state, reply.delivered_at, reply.delivery_error = "sent", ctx.now(), None
        session.add(reply)
        sent = f"✅ Sent to {ticket.customer_email} {_where(ticket)}"
        if reply.chat_ref:
            _mark(session, reply, "recovered" if had_failed else "sent", f"{sent} after all." if had_failed else f"{sent}.")
        author = repos.person_refs(session, [reply.author_person_id]).get(reply.author_person_id)
        # people on the other platforms see the answer in their thread
        _to_chat(ctx, session, "chat.notice", ticket.id, skip=(reply.chat_ref or {}).get("platform"),
                 text=f"✉️ {_name(author)} answered {ticket.customer_email}:\n{reply.text}")
    ctx.wake()


def _failure_text(ticket: Ticket, error: str, permanent: bool) -> str:
    if permanent:
        return (f"⚠️ Not delivered to {ticket.customer_email}: {error}. "
                "Pitchin gave up: fix the address or answer another way.")
    return f"⚠️ Not delivered to {ticket.customer_email} yet: {error}. Pitchin keeps trying."


def reply_failed(ctx: Context, reply_id: int, error: str, first_failure: bool, permanent: bool) -> None:
    with ctx.db.transaction() as session:
        reply = session.get(TicketMessage, reply_id)
        ticket = session.get(Ticket, reply.ticket_id)
        reply.delivery_error = error
        if permanent:
            reply.delivery_state = "failed"
        session.add(reply)
        if first_failure or permanent:
            if reply.chat_ref:
                _mark(session, reply, "gave_up" if permanent else "failed", _failure_text(ticket, error, permanent))
            then = "Pitchin gave up: fix the address or answer another way." if permanent else \
                "Pitchin keeps trying and will show ✅ when it goes through."
            _to_chat(ctx, session, "chat.notice", ticket.id,
                     text=f"⚠️ Your reply to {ticket.customer_email} has not been delivered: {error}. {then}")
    ctx.wake()


def _mark(session, reply: TicketMessage, state: str, text: str) -> None:
    """Queue showing a reply's delivery where it was written (a "chat.mark_delivery" job)."""
    ref = reply.chat_ref
    repos.enqueue(session, "chat.mark_delivery",
                  {**ref, "state": state, "text": text, "receipt": reply.receipt_ref},
                  chat_key(ref["platform"], reply.ticket_id))


def ticket_to_post(ctx: Context, ticket_id: int, platform: str):
    """(the thread it was already posted as, or None; the card to post) in one read."""
    with ctx.db.transaction(read_only=True) as session:
        a = repos.anchor_for(session, ticket_id, platform)
        if a is not None:
            return ThreadRef(a.platform, a.tenant, a.channel, a.thread_id), None
        return None, _card(session, ticket_id)


def anchor_in(session, ticket_id: int, thread: ThreadRef, full_text: bool = False) -> None:
    """Remember where a ticket was posted; when its card had to cut the mail, queue the whole text
    for the thread (in the same transaction, so it is neither lost nor posted twice)."""
    session.add(ThreadAnchor(ticket_id=ticket_id, platform=thread.platform, tenant=thread.tenant,
                             channel=thread.channel, thread_id=thread.thread_id))
    if full_text:
        first = repos.first_customer_message(session, ticket_id)
        if first is not None:
            repos.enqueue(session, "chat.notice", {"platform": thread.platform, "ticket_id": ticket_id,
                                                   "text": f"Full message:\n{first.text}"},
                          chat_key(thread.platform, ticket_id))


def anchor(ctx: Context, ticket_id: int, thread: ThreadRef) -> None:
    with ctx.db.transaction() as session:
        anchor_in(session, ticket_id, thread)


def thread_of(ctx: Context, ticket_id: int, platform: str) -> ThreadRef | None:
    with ctx.db.transaction(read_only=True) as session:
        a = repos.anchor_for(session, ticket_id, platform)
        return ThreadRef(a.platform, a.tenant, a.channel, a.thread_id) if a else None


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


__all__ = ["intake", "claim", "unclaim", "close", "reopen", "thread_reply", "answer", "undo_reply",
           "card_for", "outgoing_reply", "reply_delivered", "reply_failed", "keep_receipt", "anchor", "thread_of",
           "list_open", "ticket_state"]
