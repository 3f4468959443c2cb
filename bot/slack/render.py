"""Neutral Cards and Replies → Block Kit. Nothing else in the bot builds blocks."""

from __future__ import annotations

from handlers.base import Button, Card, PersonRef, Reply, Rich, When

PLATFORM = "slack"
SECTION_LIMIT = 3000  # Block Kit: text in a section block
FIELD_LIMIT = 2000  # Block Kit: each field of a section
MESSAGE_LIMIT = 39000  # chat.postMessage text (Slack truncates past 40,000)


def escape(text: str) -> str:
    """Customer text is shown as written: no accidental @channel, links or formatting tricks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rich(parts: Rich) -> str:
    out = []
    for part in parts:
        if isinstance(part, PersonRef):
            uid = part.id_on(PLATFORM)
            out.append(f"<@{uid}>" if uid else escape(part.name))
        elif isinstance(part, When):
            epoch = int(part.at.timestamp())
            fallback = part.at.strftime("%Y-%m-%d %H:%M UTC")
            out.append(f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>")
        else:
            out.append(escape(str(part)))
    return "".join(out)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def button(b: Button) -> dict:
    element = {
        "type": "button",
        "action_id": b.action_id,
        "value": b.value,
        "text": {"type": "plain_text", "text": b.label, "emoji": True},
    }
    if b.style:
        element["style"] = b.style
    if b.confirm:
        element["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "plain_text", "text": b.confirm},
            "confirm": {"type": "plain_text", "text": b.label},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return element


def card_blocks(card: Card) -> list[dict]:
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*{escape(card.title)}*", SECTION_LIMIT)}}
    ]
    if card.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{escape(label)}*\n{rich(value)}", FIELD_LIMIT)}
                    for label, value in card.fields[:10]
                ],
            }
        )
    if card.body:
        body = _clip(escape(card.body), SECTION_LIMIT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    if card.body_truncated:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "The full message is in the thread."}]})
    if card.status:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": rich(card.status)}]})
    if card.actions:
        blocks.append({"type": "actions", "elements": [button(b) for b in card.actions]})
    return blocks


def card_text(card: Card) -> str:
    """The notification / fallback text of a card's message."""
    who = next((rich(v) for label, v in card.fields if label == "From"), "")
    return _clip(f"{card.title} — from {who}" if who else card.title, 3000)


def reply_blocks(reply: Reply) -> list[dict]:
    text = rich(reply.rich) if reply.rich else reply.text
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}}]
    if reply.actions:
        blocks.append({"type": "actions", "elements": [button(b) for b in reply.actions]})
    return blocks


def reply_text(reply: Reply) -> str:
    return rich(reply.rich) if reply.rich else reply.text
