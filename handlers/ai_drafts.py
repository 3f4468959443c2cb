"""AI drafts of a reply, shown only to the person who asked, and sent only by that person.

``draft_reply`` asks ``ctx.drafter`` (OPENAI_API_KEY) for a draft of the next reply on a ticket and
keeps it (``ReplyDraft``, state "shown"). The person then:

- sends it: the door first asks ``prepare_send`` (the draft is still theirs, still "shown", the
  customer has not written since, the ticket is theirs to answer), posts the text in the ticket's
  thread as Pitchin's message on their behalf, and hands that message to ``send_draft``, which goes
  through ``handlers.tickets.answer`` like any reply typed in the thread: claim rules, the undo
  window, the outbox, ✅. Nothing AI-written reaches a customer any other way;
- edits it first (the door shows the text to change), then sends it the same way: state "edited";
- discards it (``discard_draft``): state "discarded".

A draft whose customer wrote again before it was sent is "stale": it answers a conversation that
has moved on, and the person is asked for a new one.

What the model is shown: see ``conversation_for`` and bot/llm_drafter.py (the README's "AI drafts
and summaries" lists it exactly).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from handlers import reply_text, saved_replies, tickets
from handlers.ai_assist import CUSTOMER, EMPLOYEE, DraftText, SavedText, Turn, caution_for, most_relevant, uncovered
from handlers.base import Actor, Button, MessageRef, Reply, ThreadRef
from handlers.cards import AI_DRAFT, AI_SUMMARISE
from handlers.context import Context
from handlers.outbound import CHAT_NOTICE, name_of, to_chat
from storage import repos
from storage.models import ReplyDraft, Ticket, TicketMessage

log = logging.getLogger("pitchin.ai")

DRAFT, SUMMARISE = AI_DRAFT, AI_SUMMARISE  # on the ticket card
SEND, EDIT, DISCARD = "ai.send", "ai.edit", "ai.discard"  # on the draft
DRAFT_MARK = "AI draft — check before sending"
SUMMARY_MARK = "🤖 AI-written summary (internal)"
SUMMARY_FROM = 6  # messages in a ticket before a summary is worth asking for
MAX_TURNS = 12  # the latest messages of a long conversation are shown to the model
AI_OFF = ("AI is off: Pitchin has no OPENAI_API_KEY, so it does not draft replies or summarise threads. "
          "An admin can set OPENAI_API_KEY to switch it on; saved replies work without it.")

# ReplyDraft.state
SHOWN, SENT, EDITED, DISCARDED, STALE = "shown", "sent", "edited", "discarded", "stale"


def _off() -> Reply:
    return Reply(AI_OFF, ok=False)


def _unknown(ticket_id: int) -> Reply:
    return Reply(f"There is no ticket #{ticket_id}. `list` shows the open ones.", ok=False)


# ---------------------------------------------------------------- what the model is shown


def conversation_for(messages: list[TicketMessage]) -> list[Turn]:
    """The conversation as the model sees it: the customer's messages and the replies that went (or
    are going) to the customer, oldest first, the latest ``MAX_TURNS``. Internal notes, automatic
    replies (out-of-office) and replies taken back are left out: they never were the conversation."""
    turns = []
    for m in messages:
        if m.kind == "customer":
            turns.append(Turn(CUSTOMER, m.text))
        elif m.kind == "reply" and m.delivery_state != "cancelled":
            turns.append(Turn(EMPLOYEE, m.text))
    return [t for t in turns if t.text.strip()][-MAX_TURNS:]


def saved_replies_for(session, person_id: int) -> list[SavedText]:
    """The saved replies a person may use: the team's and their own (theirs winning over a team reply
    of the same name), removed ones left out."""
    return [SavedText(r.id, r.name, r.text) for r in saved_replies.available(session, person_id)]


def _newest_customer_message(session, ticket_id: int) -> int | None:
    return session.execute(select(TicketMessage.id).where(TicketMessage.ticket_id == ticket_id,
                                                          TicketMessage.kind == "customer")
                           .order_by(TicketMessage.id.desc()).limit(1)).scalar()


# ---------------------------------------------------------------- draft


@dataclass(frozen=True)
class _Request:
    person_id: int
    ticket: Ticket
    conversation: list[Turn]
    saved: list[SavedText]
    after_message_id: int | None


def draft_reply(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    """Ask the model for a draft of the next reply on ``ticket_id``; shown to ``actor`` only (the door
    sees to that). Waits for the model: run it off the event loop (``may_embed``)."""
    if ctx.drafter is None:
        return _off()
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return _unknown(ticket_id)
        conversation = conversation_for(repos.conversation(session, ticket_id))
        request = _Request(person.id, ticket, conversation,
                           most_relevant(saved_replies_for(session, person.id), conversation),
                           _newest_customer_message(session, ticket_id))
        session.expunge(ticket)
    if ticket.status == "closed":
        return Reply(f"#{ticket_id} is closed. Reopen it first if the customer still needs an answer.", ok=False)
    if not any(t.author == CUSTOMER for t in conversation):
        return Reply(f"#{ticket_id} has no message from the customer with text to answer.", ok=False)
    try:
        got = ctx.drafter.draft(request.conversation, request.saved)
    except Exception as exc:  # the model failed: the person writes their reply as usual
        log.warning("could not draft a reply on #%s: %s", ticket_id, exc)
        return Reply(f"Pitchin could not make a draft for #{ticket_id}: {exc} Nothing was sent; answer in the "
                     "thread as usual, or try again in a minute.", ok=False)
    return _keep(ctx, actor, request, got)


def _keep(ctx: Context, actor: Actor, request: _Request, got: DraftText) -> Reply:
    ticket = request.ticket
    by_name = {s.name.lower(): s for s in request.saved}
    sources = []
    for name in got.sources:  # only saved replies it was shown; a made-up name is no source
        found = by_name.get(name.strip().lower())
        if found is not None and found not in sources:
            sources.append(found)
    values = reply_text.values_for(ticket.customer_name, ticket.customer_email, actor.name, ticket.id, ticket.subject)
    text = reply_text.fill(got.reply.strip(), values).text
    caution = caution_for(uncovered(text, [s.text for s in sources]))
    with ctx.db.transaction() as session:
        draft = ReplyDraft(ticket_id=ticket.id, requested_by_id=request.person_id,
                           after_message_id=request.after_message_id, text=text,
                           sources=[{"id": s.id, "name": s.name} for s in sources], caution=caution,
                           model=getattr(ctx.drafter, "model", "") or "", state=SHOWN, created_at=ctx.now())
        session.add(draft)
        session.flush()
        draft_id = draft.id
    return shown(draft_id, ticket.id, text, [s.name for s in sources], caution, got.needs_check)


def shown(draft_id: int, ticket_id: int, text: str, sources: list[str], caution: str | None,
          needs_check: tuple[str, ...] = ()) -> Reply:
    """The draft as its requester sees it: marked, with its sources, the guard's caution, and the
    three choices."""
    lines = [f"🤖 {DRAFT_MARK} (#{ticket_id}). Only you can see this.", "", text, ""]
    if sources:
        lines.append("Sources: " + ", ".join(f"saved reply “{name}”" for name in sources) + ".")
    else:
        lines.append("Sources: no saved reply; written from the conversation alone.")
    if caution:
        lines.append(f"⚠️ {caution}")
    checks = [t.strip() for t in needs_check if t.strip()][:5]
    if checks:
        lines.append("The draft asks you to check: " + "; ".join(checks) + ".")
    value = str(draft_id)
    return Reply("\n".join(lines), actions=(Button("Send", SEND, value, style="primary"), Button("Edit", EDIT, value),
                                            Button("Discard", DISCARD, value, style="danger")))


# ---------------------------------------------------------------- send, edit, discard


@dataclass(frozen=True)
class SendPlan:
    """What the door posts in the ticket's thread (as Pitchin, on the person's behalf) before
    ``send_draft``: ``thread_text`` in ``thread``."""

    draft_id: int
    ticket_id: int
    text: str  # what goes to the customer
    thread: ThreadRef
    thread_text: str  # what the thread shows: who answered, and the text


def _mine(session, actor: Actor, draft_id: int) -> tuple[ReplyDraft | None, Reply | None]:
    person = repos.person_for(session, actor)
    draft = session.get(ReplyDraft, draft_id)
    if draft is None:
        return None, Reply("That draft no longer exists. Ask for a new one.", ok=False, replace_original=True)
    if draft.requested_by_id != person.id:
        return None, Reply("Only the person who asked for a draft can send or discard it.", ok=False)
    if draft.state != SHOWN:
        said = {SENT: "was sent", EDITED: "was sent", DISCARDED: "was discarded",
                STALE: "is out of date: the customer wrote again"}[draft.state]
        return None, Reply(f"That draft {said}. Ask for a new one if you need it.", ok=False, replace_original=True)
    return draft, None


def _went_stale(ctx: Context, session, draft: ReplyDraft) -> Reply | None:
    newest = _newest_customer_message(session, draft.ticket_id)
    if newest == draft.after_message_id:
        return None
    draft.state, draft.decided_at = STALE, ctx.now()
    session.add(draft)
    return Reply(f"The customer wrote again on #{draft.ticket_id}; ask for a new draft. This one was discarded, "
                 "and nothing was sent.", ok=False, replace_original=True)


def prepare_send(ctx: Context, actor: Actor, draft_id: int, platform: str, text: str | None = None) -> SendPlan | Reply:
    """Whether the draft (or ``text``, the person's edit of it) may go: a ``SendPlan`` for the door,
    or a Reply saying why not. A draft the customer has overtaken is discarded here ("stale")."""
    with ctx.db.transaction() as session:
        draft, refusal = _mine(session, actor, draft_id)
        if refusal is not None:
            return refusal
        stale = _went_stale(ctx, session, draft)
        if stale is not None:
            return stale
        body = (draft.text if text is None else text).strip()
        ticket = session.get(Ticket, draft.ticket_id)
        person = repos.person_for(session, actor)
        anchor = repos.anchor_for(session, ticket.id, platform)
        holder = repos.person_refs(session, [ticket.claimed_by_id]).get(ticket.claimed_by_id)
    if not body:
        return Reply("The reply is empty; write something or discard the draft.", ok=False)
    left = reply_text.placeholders(body)
    if left:
        return Reply(reply_text.unfilled_message(left), ok=False)
    if ticket.status == "closed":
        return Reply(f"#{ticket.id} is closed. Reopen it first, then send the draft.", ok=False)
    if ticket.claimed_by_id not in (None, person.id):
        return Reply(f"#{ticket.id} is claimed by {name_of(holder)}, and only they answer the customer. "
                     "Nothing was sent.", ok=False)
    if anchor is None:
        return Reply(f"#{ticket.id} has no thread on {platform} yet to send from; try again in a moment.", ok=False)
    thread = ThreadRef(anchor.platform, anchor.tenant, anchor.channel, anchor.thread_id)
    return SendPlan(draft_id, ticket.id, body, thread, f"💬 {actor.name or 'Someone'} (from an AI draft they checked):\n{body}")


def send_draft(ctx: Context, actor: Actor, plan: SendPlan, source: MessageRef) -> Reply:
    """The door posted ``plan.thread_text`` as ``source``: now it is a reply like any other
    (``tickets.answer``), and the draft records what became of it. Should the customer have written
    in between, the message stays an internal note."""
    with ctx.db.transaction() as session:
        draft, refusal = _mine(session, actor, plan.draft_id)
        if refusal is not None:
            return refusal
        stale = _went_stale(ctx, session, draft)
    if stale is not None:
        tickets.answer(ctx, actor, plan.ticket_id, plan.text, source, internal=True)
        return Reply(f"The customer wrote again on #{plan.ticket_id} while you sent; your message stayed an internal "
                     "note. Ask for a new draft.", ok=False, replace_original=True)
    outcome = tickets.answer(ctx, actor, plan.ticket_id, plan.text, source)
    with ctx.db.transaction() as session:
        draft = session.get(ReplyDraft, plan.draft_id)
        reply_id = outcome.delivery_of if outcome is not None else None
        if reply_id is not None:
            draft.state = SENT if _same(plan.text, draft.text) else EDITED
            draft.sent_text, draft.reply_id, draft.decided_at = plan.text, reply_id, ctx.now()
            session.add(draft)
    if outcome is None:
        return Reply("Already handled.", ok=False)
    return Reply(outcome.text, actions=outcome.actions, ok=outcome.ok, delivery_of=outcome.delivery_of,
                 replace_original=True)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def draft_text(ctx: Context, actor: Actor, draft_id: int) -> str | Reply:
    """The draft's text, to edit (or a Reply saying why it cannot be)."""
    with ctx.db.transaction() as session:
        draft, refusal = _mine(session, actor, draft_id)
        if refusal is not None:
            return refusal
        return draft.text


def discard_draft(ctx: Context, actor: Actor, draft_id: int) -> Reply:
    with ctx.db.transaction() as session:
        draft, refusal = _mine(session, actor, draft_id)
        if refusal is not None:
            return refusal
        draft.state, draft.decided_at = DISCARDED, ctx.now()
        session.add(draft)
        ticket_id = draft.ticket_id
    return Reply(f"Draft discarded; nothing was sent on #{ticket_id}.", replace_original=True)


# ---------------------------------------------------------------- summarise


def summarise(ctx: Context, actor: Actor, ticket_id: int) -> Reply:
    """A short summary of a long thread, posted in it for everyone on every platform (never to the
    customer), marked AI-written. Waits for the model: run it off the event loop (``may_embed``)."""
    if ctx.drafter is None:
        return _off()
    with ctx.db.transaction() as session:
        person = repos.person_for(session, actor)
        if session.get(Ticket, ticket_id) is None:
            return _unknown(ticket_id)
        messages = repos.conversation(session, ticket_id)
        name = person.name
    conversation = conversation_for(messages)
    if len(messages) < SUMMARY_FROM:
        return Reply(f"#{ticket_id} has {len(messages)} message{'s' if len(messages) != 1 else ''}: short enough to "
                     f"read. Summaries are for threads of {SUMMARY_FROM} or more.", ok=False)
    try:
        summary = ctx.drafter.summarise(conversation).strip()
    except Exception as exc:
        log.warning("could not summarise #%s: %s", ticket_id, exc)
        return Reply(f"Pitchin could not summarise #{ticket_id}: {exc} Nothing was posted; try again in a minute.",
                     ok=False)
    if not summary:
        return Reply(f"The model wrote no summary of #{ticket_id}. Nothing was posted.", ok=False)
    with ctx.db.transaction() as session:
        to_chat(ctx, session, CHAT_NOTICE, ticket_id,
                text=f"{SUMMARY_MARK}, asked for by {name or 'someone'}. The customer does not see it.\n{summary}")
    ctx.wake()
    return Reply(f"The summary of #{ticket_id} is in its thread, marked AI-written. The customer does not see it.")


draft_reply.may_embed = True
summarise.may_embed = True
