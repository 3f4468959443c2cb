"""Neutral Cards and Replies → Adaptive Cards (and plain messages). Nothing else in the bot builds cards.

A button becomes an Action.Submit whose data names the action and its target,
``{"action": "ticket.claim", "ticket_id": 7}``; inbound.card_action reads it back. A button with a
confirmation question becomes an Action.ShowCard holding the question and the real button.
"""

from __future__ import annotations

from botbuilder.schema import Activity, ActivityTypes, Attachment

from handlers.base import Button, Card, DeliveryMark, PersonRef, Reply, Rich, When
from handlers.cards import plain

PLATFORM = "teams"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.4"  # what Teams renders on every client
TEXT_LIMIT = 20000  # a Teams message is at most ~28 KB; leave room for the card around it
STYLE = {"primary": "positive", "danger": "destructive"}
ACCENT = {"open": "Good", "claimed": "Accent", "closed": "Default", "neutral": "Default"}


class Drawn:
    """Text for a card with the mentions it needs (Teams notifies a mentioned person)."""

    def __init__(self) -> None:
        self.mentions: dict[str, str] = {}  # user id → name

    def rich(self, parts: Rich) -> str:
        out = []
        for part in parts:
            if isinstance(part, PersonRef):
                uid = part.id_on(PLATFORM)
                if uid:
                    self.mentions[uid] = part.name
                    out.append(f"<at>{part.name}</at>")
                else:
                    out.append(f"**{part.name}**")
            elif isinstance(part, When):
                # Adaptive Cards localise these in the reader's own time zone
                stamp = part.at.strftime("%Y-%m-%dT%H:%M:%SZ")
                out.append(f"{{{{DATE({stamp},SHORT)}}}} {{{{TIME({stamp})}}}}")
            else:
                out.append(str(part))
        return "".join(out)

    def entities(self) -> list[dict]:
        return [{"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": uid, "name": name}}
                for uid, name in self.mentions.items()]


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(text: str, **style) -> dict:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def button_data(b: Button) -> dict:
    kind = b.action_id.partition(".")[0]
    return {"action": b.action_id, f"{kind}_id": int(b.value) if b.value.isdigit() else b.value}


def action(b: Button) -> dict:
    submit = {"type": "Action.Submit", "title": b.label, "data": button_data(b)}
    if b.style in STYLE:
        submit["style"] = STYLE[b.style]
    if not b.confirm:
        return submit
    return {"type": "Action.ShowCard", "title": b.label,
            "card": {"type": "AdaptiveCard", "body": [_text(b.confirm)], "actions": [submit]}}


def _card(body: list[dict], actions: list[dict], drawn: Drawn) -> dict:
    card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body,
            "msteams": {"width": "Full"}}
    if actions:
        card["actions"] = actions
    if drawn.mentions:
        card["msteams"]["entities"] = drawn.entities()
    return card


def ticket_card(card: Card) -> dict:
    drawn = Drawn()
    body = [_text(card.title, weight="Bolder", size="Medium")]
    for label, value in card.fields:
        body.append(_text(f"**{label}:** {drawn.rich(value)}", spacing="None"))
    if card.body:
        body.append(_text(_clip(card.body), separator=True))
    if card.body_truncated:
        body.append(_text("The full message is in the replies.", isSubtle=True, size="Small"))
    if card.status:
        body.append(_text(drawn.rich(card.status), color=ACCENT.get(card.accent, "Default"), weight="Bolder",
                          separator=True))
    return _card(body, [action(b) for b in card.actions], drawn)


def reply_card(reply: Reply, to: tuple[str, str] | None = None) -> dict:
    """What a person is told (their reply's Undo note, a refusal …), addressed to them by mention."""
    drawn = Drawn()
    if to is not None:
        drawn.mentions[to[0]] = to[1]
    said = drawn.rich(reply.rich) if reply.rich else reply.text
    text = f"<at>{to[1]}</at> {said}" if to is not None else said
    return _card([_text(_clip(text))], [action(b) for b in reply.actions], drawn)


def delivery_card(mark: DeliveryMark) -> dict:
    """A reply's Undo note, redrawn once the reply went out (or could not): no more Undo."""
    return _card([_text(mark.text or DEFAULT_MARKS[mark.state])], [], Drawn())


DEFAULT_MARKS = {
    "sent": "✅ Sent to the customer.",
    "recovered": "✅ Sent to the customer after all.",
    "failed": "⚠️ Not delivered to the customer yet. Pitchin keeps trying.",
    "gave_up": "⚠️ Not delivered to the customer. Pitchin gave up.",
}


def card_activity(content: dict, summary: str) -> Activity:
    return Activity(type=ActivityTypes.message, summary=_clip(summary, 250),
                    attachments=[Attachment(content_type=CARD_TYPE, content=content)])


def ticket_activity(card: Card) -> Activity:
    who = next((plain(v) for label, v in card.fields if label == "From"), "")
    return card_activity(ticket_card(card), f"{card.title} — from {who}" if who else card.title)


def text_activity(text: str) -> Activity:
    """A plain message in a thread: customer text is shown as written, no markup or mentions."""
    return Activity(type=ActivityTypes.message, text=_clip(text), text_format="plain")
