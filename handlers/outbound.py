"""What the delivery worker needs from the core: cards to draw, replies to send, and what to show
once they went (or did not). Also the outbox keys and the helper that queues a job per platform.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import event

from handlers import message_ids
from handlers.base import Card, MessageRef, OutgoingReply, PersonRef, ThreadRef
from handlers.card_json import card_to_json
from handlers.cards import ticket_card
from handlers.context import Context
from storage import repos
from storage.models import OutboxJob, ThreadAnchor, Ticket, TicketMessage

# job kinds about one ticket (payloads: {platform, ticket_id, …}, ordered by chat_key)
CHAT_POST_TICKET = "chat.post_ticket"  # the ticket's card in the support channel
CHAT_UPDATE_TICKET = "chat.update_ticket"  # its card redrawn (claimed, closed, …)
CHAT_CUSTOMER_MESSAGE = "chat.customer_message"  # a later customer message, in its thread
CHAT_NOTICE = "chat.notice"  # {…, text, card?, failure?}: a line (or a card) in a ticket's thread
CHAT_MARK_DELIVERY = "chat.mark_delivery"  # {message ref, state, text, receipt}: a reply's delivery shown
# job kinds for customers (ordered by customer_key)
CUSTOMER_REPLY = "customer.reply"  # {reply_id}: an employee's reply, after its undo window
CUSTOMER_SUGGESTION = "customer.suggestion"  # {card_id, outcome, …}: "your suggestion shipped"

# job kinds that are not about one ticket
CHAT_POST = "chat.post"  # {platform, channel, text, card?}: a post in any channel of one platform
CHAT_DIRECT = "chat.direct"  # {person_id, text, card?}: to a colleague, on the first platform that reaches them
CHAT_USERGROUP = "chat.usergroup"  # {platform, usergroup, person_ids}: a user group's members become those people

# a job that keeps failing is retried for this long after it was queued, then Pitchin gives up and
# says so: a lasting outage must not hold a ticket's later posts back for ever
RETRY_FOR = timedelta(hours=24)
RETRY_FOR_WORDS = "24 h"
# finished jobs (done, failed, cancelled) are kept this long for looking into, then deleted
KEEP_FINISHED = timedelta(days=30)


def chat_key(platform: str, ticket_id: int) -> str:
    return f"chat:{platform}:ticket:{ticket_id}"


def channel_key(platform: str, channel: str) -> str:
    return f"chat:{platform}:channel:{channel}"


def person_key(person_id: int) -> str:
    return f"chat:person:{person_id}"


def customer_key(ticket_id: int) -> str:
    return f"customer:ticket:{ticket_id}"


def to_chat(ctx: Context, session, kind: str, ticket_id: int, skip: str | None = None,
            run_after: datetime | None = None, **payload) -> None:
    """Queue a chat job on every platform (but ``skip``, where the thing happened and is seen already),
    due at once or at ``run_after``."""
    for platform in ctx.platforms:
        if platform != skip:
            repos.enqueue(session, kind, {"platform": platform, "ticket_id": ticket_id, **payload},
                          chat_key(platform, ticket_id), run_after=run_after, flush=False)



def name_of(ref: PersonRef | None) -> str:
    return ref.name if ref else "someone"



def where_to(ticket: Ticket) -> str:
    return "by email" if ticket.reply_url is None else "to the web form"


def ref_dict(ref: MessageRef) -> dict:
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
        reply.receipt_ref = ref_dict(receipt)
        session.add(reply)
        ticket = session.get(Ticket, reply.ticket_id)
        if reply.delivery_state == "sent":
            mark(session, reply, "sent", f"✅ Sent to {ticket.customer_email} {where_to(ticket)}.")
        elif reply.delivery_error:
            state = "gave_up" if reply.delivery_state == "failed" else "failed"
            mark(session, reply, state, failure_text(ticket, reply.delivery_error, state == "gave_up"))
        else:
            return
    ctx.wake()



# ---------------------------------------------------------------- for the delivery worker


def card_for(ctx: Context, ticket_id: int):
    with ctx.db.transaction(read_only=True) as session:
        return _card(session, ticket_id, ai=ctx.drafter is not None)


def _card(session, ticket_id: int, ai: bool = False):
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    first = repos.first_customer_message(session, ticket_id)
    people = repos.person_refs(session, [ticket.claimed_by_id, ticket.closed_by_id])
    return ticket_card(ticket, first.text if first else "", first.attachments if first else [], people,
                       dmarc_failed=first.dmarc_failed if first else False, ai=ai)


def full_text(ctx: Context, ticket_id: int, message_id: int | None = None) -> str:
    with ctx.db.transaction(read_only=True) as session:
        messages = repos.conversation(session, ticket_id)
    for m in messages:
        if m.kind == "customer" and (message_id is None or m.id == message_id):
            return m.text
    return ""


def reply_subject(subject: str) -> str:
    """A ticket's subject as the subject of a mail in its conversation: "Re: …", never "Re: Re: …"."""
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


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
    return OutgoingReply(
        ticket_id=ticket.id,
        reply_id=reply.id,
        to_email=ticket.customer_email,
        to_name=ticket.customer_name,
        subject=reply_subject(ticket.subject),
        text=reply.text,
        author_name=name_of(author),
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
        sent = f"✅ Sent to {ticket.customer_email} {where_to(ticket)}"
        if reply.chat_ref:
            mark(session, reply, "recovered" if had_failed else "sent", f"{sent} after all." if had_failed else f"{sent}.")
        author = repos.person_refs(session, [reply.author_person_id]).get(reply.author_person_id)
        # people on the other platforms see the answer in their thread
        to_chat(ctx, session, CHAT_NOTICE, ticket.id, skip=(reply.chat_ref or {}).get("platform"),
                 text=f"✉️ {name_of(author)} answered {ticket.customer_email}:\n{reply.text}")
    ctx.wake()


def _gave_up(timed_out: bool) -> str:
    if timed_out:
        return f"Pitchin gave up after {RETRY_FOR_WORDS}: answer another way."
    return "Pitchin gave up: fix the address or answer another way."


def failure_text(ticket: Ticket, error: str, permanent: bool, timed_out: bool = False) -> str:
    if permanent:
        return f"⚠️ Not delivered to {ticket.customer_email}: {error}. {_gave_up(timed_out)}"
    return f"⚠️ Not delivered to {ticket.customer_email} yet: {error}. Pitchin keeps trying."


def reply_failed(ctx: Context, reply_id: int, error: str, first_failure: bool, permanent: bool,
                 timed_out: bool = False) -> None:
    """A reply did not reach the customer. ``permanent``: Pitchin stops trying, because the other
    side refused for good or (``timed_out``) it kept failing for RETRY_FOR."""
    with ctx.db.transaction() as session:
        reply = session.get(TicketMessage, reply_id)
        ticket = session.get(Ticket, reply.ticket_id)
        reply.delivery_error = error
        if permanent:
            reply.delivery_state = "failed"
        session.add(reply)
        if first_failure or permanent:
            if reply.chat_ref:
                mark(session, reply, "gave_up" if permanent else "failed",
                     failure_text(ticket, error, permanent, timed_out))
            then = _gave_up(timed_out) if permanent else "Pitchin keeps trying and will show ✅ when it goes through."
            to_chat(ctx, session, CHAT_NOTICE, ticket.id,
                     text=f"⚠️ Your reply to {ticket.customer_email} has not been delivered: {error}. {then}")
    ctx.wake()


def mark(session, reply: TicketMessage, state: str, text: str) -> None:
    """Queue showing a reply's delivery where it was written (a CHAT_MARK_DELIVERY job)."""
    ref = reply.chat_ref
    repos.enqueue(session, CHAT_MARK_DELIVERY,
                  {**ref, "state": state, "text": text, "receipt": reply.receipt_ref, "ticket_id": reply.ticket_id},
                  chat_key(ref["platform"], reply.ticket_id))


def ticket_to_post(ctx: Context, ticket_id: int, platform: str):
    """(the thread it was already posted as, or None; the card to post) in one read."""
    with ctx.db.transaction(read_only=True) as session:
        a = repos.anchor_for(session, ticket_id, platform)
        if a is not None:
            return ThreadRef(a.platform, a.tenant, a.channel, a.thread_id), None
        return None, _card(session, ticket_id, ai=ctx.drafter is not None)


def anchor_in(session, ticket_id: int, thread: ThreadRef, full_text: bool = False) -> None:
    """Remember where a ticket was posted; when its card had to cut the mail, queue the whole text
    for the thread (in the same transaction, so it is neither lost nor posted twice)."""
    session.add(ThreadAnchor(ticket_id=ticket_id, platform=thread.platform, tenant=thread.tenant,
                             channel=thread.channel, thread_id=thread.thread_id))
    if full_text:
        first = repos.first_customer_message(session, ticket_id)
        if first is not None:
            repos.enqueue(session, CHAT_NOTICE, {"platform": thread.platform, "ticket_id": ticket_id,
                                                   "text": f"Full message:\n{first.text}"},
                          chat_key(thread.platform, ticket_id))


def anchor(ctx: Context, ticket_id: int, thread: ThreadRef) -> None:
    with ctx.db.transaction() as session:
        anchor_in(session, ticket_id, thread)


def thread_of(ctx: Context, ticket_id: int, platform: str) -> ThreadRef | None:
    with ctx.db.transaction(read_only=True) as session:
        a = repos.anchor_for(session, ticket_id, platform)
        return ThreadRef(a.platform, a.tenant, a.channel, a.thread_id) if a else None


# ---------------------------------------------------------------- suggestion outcomes


def suggestion_notice(ctx: Context, payload: dict) -> OutgoingReply | None:
    """The one message a customer gets when a suggestion they made ships or is declined."""
    from storage.models import SuggestionCard

    with ctx.db.transaction(read_only=True) as session:
        card = session.get(SuggestionCard, payload["card_id"])
        ticket = session.get(Ticket, payload["ticket_id"]) if payload.get("ticket_id") else None
    if card is None:
        return None
    name = payload.get("name") or "there"
    if payload["outcome"] == "shipped":
        subject = f"You asked, we built it: {card.title}"
        body = f"Hi {name},\n\nYou asked us for this: {card.title}\n\nGood news: it has shipped."
    else:
        subject = f"About your suggestion: {card.title}"
        body = f"Hi {name},\n\nYou asked us for this: {card.title}\n\nWe have decided not to build it for now."
    if payload.get("message"):
        body += f"\n\n{payload['message']}"
    body += "\n\nThank you for telling us. It made a difference.\n"
    email = (payload.get("email") or "").lower()
    digest = hashlib.sha256(f"{card.id}:{email}:{payload['outcome']}".encode()).hexdigest()[:16]
    return OutgoingReply(
        ticket_id=ticket.id if ticket else 0, reply_id=0, to_email=email, to_name=payload.get("name") or "",
        subject=subject, text=body, author_name="", references=(), in_reply_to=None,
        message_id=message_ids.make(ctx.mail_domain, "suggestion", str(card.id), payload["outcome"], digest),
        reply_url=ticket.reply_url if ticket else None, external_id=ticket.external_id if ticket else None,
    )


def direct_targets(ctx: Context, person_id: int) -> list[tuple[str, str, str]]:
    """Where a person can be reached directly: (platform, tenant, user id) for each account."""
    from sqlalchemy import select

    from storage.models import Identity

    with ctx.db.transaction(read_only=True) as session:
        rows = session.execute(select(Identity).where(Identity.person_id == person_id).order_by(Identity.id)).scalars()
        return [(i.platform, i.tenant, i.user_id) for i in rows]


# ---------------------------------------------------------------- posts anywhere (reminders, briefings, digests)


def wake_after_commit(ctx: Context, session) -> None:
    """Wake the delivery worker once the caller's transaction commits (before, it would find nothing)."""
    event.listen(session, "after_commit", lambda _session: ctx.wake(), once=True)


def _content(text: str, card: Card | None) -> dict:
    if not text and card is None:
        raise ValueError("a post needs a text or a card")
    return {"text": text, **({"card": card_to_json(card)} if card is not None else {})}


def post_to_channel(ctx: Context, session, platform: str, channel: str, text: str = "", card: Card | None = None,
                    key: str | None = None) -> OutboxJob:
    """Queue a post in ``channel`` on ``platform`` in the caller's transaction: it goes out once that
    commits (and only then), across restarts, outages and rate limits. Posts with the same ``key``
    go out one at a time in the order queued (default: one queue per channel); one that fails for
    good does not hold the others back. Words are neutral text: each platform escapes them."""
    job = repos.enqueue(session, CHAT_POST, {"platform": platform, "channel": channel, **_content(text, card)},
                        key or channel_key(platform, channel))
    wake_after_commit(ctx, session)
    return job


def post_to_person(ctx: Context, session, person_id: int, text: str = "", card: Card | None = None,
                   key: str | None = None) -> OutboxJob:
    """Queue a private message to a colleague (any of their accounts: the first platform configured
    that can reach them, chosen when it goes out), in the caller's transaction."""
    job = repos.enqueue(session, CHAT_DIRECT, {"person_id": person_id, **_content(text, card)},
                        key or person_key(person_id))
    wake_after_commit(ctx, session)
    return job


def set_usergroup(ctx: Context, session, platform: str, usergroup: str, person_ids: list[int]) -> OutboxJob:
    """Queue making these people (their accounts on ``platform``) the members of a user group (a
    rotation's group that follows whoever is on duty). Changes of one group go out in the order queued."""
    job = repos.enqueue(session, CHAT_USERGROUP, {"platform": platform, "usergroup": usergroup,
                                                  "person_ids": person_ids},
                        f"chat:{platform}:usergroup:{usergroup}")
    wake_after_commit(ctx, session)
    return job


# ---------------------------------------------------------------- jobs that end undone

# what a ticket's chat job was doing, in the words of a notice in that ticket's thread
_WHAT = {
    CHAT_UPDATE_TICKET: "redraw this ticket's card",
    CHAT_CUSTOMER_MESSAGE: "post the customer's message here (it is kept with the ticket)",
    CHAT_NOTICE: "post a notice here",
    CHAT_MARK_DELIVERY: "show a reply's delivery on its message",
}


def ended_text(what: str, error: str, gave_up: bool) -> str:
    if gave_up:
        return f"⚠️ Pitchin gave up after {RETRY_FOR_WORDS}: it could not {what}: {error}."
    return f"⚠️ Pitchin could not {what}: {error}."


def job_ended(ctx: Context, session, kind: str, payload: dict, error: str, gave_up: bool,
              same_platform: bool = True) -> None:
    """A job ended undone: the platform refused it for good, or it kept failing for RETRY_FOR.
    Say so where people look: in the ticket's thread on that platform while the thread is there
    (unless not ``same_platform``: the platform refuses Pitchin's posts there too), on the other
    platforms when the ticket itself could not be posted. A notice about a failure that fails in
    turn is only logged (by the worker), never noticed again."""
    ticket_id, platform = payload.get("ticket_id"), payload.get("platform")
    if ticket_id is None or platform is None or payload.get("failure"):
        return
    if kind == CHAT_POST_TICKET:
        to_chat(ctx, session, CHAT_NOTICE, ticket_id, skip=platform, failure=True,
                text=ended_text(f"post this ticket on {platform}", error, gave_up))
    elif same_platform and kind in _WHAT and repos.anchor_for(session, ticket_id, platform) is not None:
        what = _WHAT[kind]
        if kind == CHAT_MARK_DELIVERY and payload.get("text"):
            what += f" (“{payload['text']}”)"
        repos.enqueue(session, CHAT_NOTICE, {"platform": platform, "ticket_id": ticket_id, "failure": True,
                                             "text": ended_text(what, error, gave_up)},
                      chat_key(platform, ticket_id), flush=False)
    else:
        return
    wake_after_commit(ctx, session)


def ticket_post_pending(ctx: Context, ticket_id: int, platform: str) -> bool:
    """Whether the ticket's root post on ``platform`` is still to be made (queued and not ended)."""
    with ctx.db.transaction(read_only=True) as session:
        return repos.pending_job_of_kind(session, chat_key(platform, ticket_id), CHAT_POST_TICKET)
