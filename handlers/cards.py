"""How a ticket looks: one neutral Card that every platform draws natively."""

from __future__ import annotations

from urllib.parse import urlsplit

from handlers.base import Button, Card, PersonRef, Rich, When
from storage.models import Ticket

# Block Kit allows 3,000 characters in a section; Adaptive Cards are roomier but a wall of text
# in a channel helps nobody. Longer mail is cut here and posted whole in the thread.
BODY_LIMIT = 2800
# opens the feedback form with the ticket's customer filled in (each platform draws its own form)
FEEDBACK_FROM_TICKET = "feedback.from_ticket"
# shows the person who clicks the saved replies closest to the customer's message (handlers/use_saved.py)
USE_SAVED_REPLY = "reply.saved"


def ticket_state(ticket: Ticket) -> str:
    if ticket.status == "closed":
        return "closed"
    return "claimed" if ticket.claimed_by_id else "open"


def ticket_card(ticket: Ticket, first_text: str, attachments: list, people: dict[int, PersonRef],
                dmarc_failed: bool = False, ai: bool = False) -> Card:
    """``ai``: Pitchin can draft replies and summarise threads (OPENAI_API_KEY): the card offers it."""
    state = ticket_state(ticket)
    status: Rich
    if state == "closed":
        closer = people.get(ticket.closed_by_id)
        status = ("🔒 Closed by ", closer, ".") if closer else ("🔒 Closed.",)
    elif state == "claimed":
        status = ("🙋 Claimed by ", people.get(ticket.claimed_by_id) or PersonRef("someone"), ".")
    else:
        status = ("🟢 Open: nobody has claimed it yet.",)

    value = str(ticket.id)
    if state == "open":
        actions = (
            Button("Claim", "ticket.claim", value, style="primary"),
            Button("Close", "ticket.close", value, confirm="Close this ticket without answering?"),
        )
    elif state == "claimed":
        actions = (Button("Unclaim", "ticket.unclaim", value), Button("Close", "ticket.close", value, style="danger"))
    else:
        actions = (Button("Reopen", "ticket.reopen", value),)
    if state != "closed":
        actions += (Button("Use a saved reply", USE_SAVED_REPLY, value),)
    # the customer asked for something the product does not do: file it in the suggestion tracker
    actions += (Button("Log feedback", FEEDBACK_FROM_TICKET, value),)
    if ai:
        actions += ai_buttons(state, value)

    customer = f"{ticket.customer_name} <{ticket.customer_email}>" if ticket.customer_name else ticket.customer_email
    fields: list[tuple[str, Rich]] = [("From", (customer,))]
    caution = sender_caution(ticket, dmarc_failed)
    if caution:
        fields.append(("Sender", (caution,)))
    fields.append(("Received", (When(ticket.created_at),)))
    if attachments:
        listed = ", ".join(f"{a['filename']} ({human_size(a['size'])})" for a in attachments)
        fields.append(("Attachments", (listed,)))

    body, truncated = first_text, False
    if len(body) > BODY_LIMIT:
        body, truncated = body[: BODY_LIMIT - 1].rstrip() + "…", True
    return Card(
        title=f"#{ticket.id} · {ticket.subject}",
        body=body,
        fields=tuple(fields),
        status=tuple(p for p in status if p is not None),
        actions=actions,
        accent=state,
        body_truncated=truncated,
    )


# AI help on a ticket (handlers/ai_drafts.py, which the buttons call)
AI_DRAFT, AI_SUMMARISE = "ai.draft", "ai.summarise"


def ai_buttons(state: str, value: str) -> tuple[Button, ...]:
    """Draft a reply (while the ticket is open) and Summarise, shown only when AI is configured."""
    draft = (Button("Draft a reply", AI_DRAFT, value),) if state != "closed" else ()
    return draft + (Button("Summarise", AI_SUMMARISE, value),)


def sender_caution(ticket: Ticket, dmarc_failed: bool) -> str | None:
    """What the card warns about the sender: anyone can type any address into a web form, and a
    mail whose domain's DMARC check failed may be forged. Nothing is ever shown as verified: a
    customer can write an Authentication-Results header that says "pass" as easily as one
    that says "fail"."""
    if ticket.source == "web":
        host = urlsplit(ticket.reply_url).hostname if ticket.reply_url else None
        return f"⚠️ Email not verified, replies go to {host}" if host else "⚠️ Email not verified"
    if dmarc_failed:
        return f"⚠️ DMARC failed: this mail may not be from {ticket.customer_email}"
    return None


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def plain(parts: Rich) -> str:
    """A Rich line as plain text (names, UTC times), for logs and platforms without markup."""
    out = []
    for part in parts:
        if isinstance(part, PersonRef):
            out.append(part.name)
        elif isinstance(part, When):
            out.append(part.at.strftime("%Y-%m-%d %H:%M UTC"))
        else:
            out.append(str(part))
    return "".join(out)
