"""Neutral Cards and Replies → Block Kit, and Pitchin's views (the feedback modal, the Home tab).
Nothing else in the bot builds blocks."""

from __future__ import annotations

import json
import re

from handlers.base import Button, Card, PersonRef, Reply, Rich, When
from handlers.feedback import IMPORTANCE

PLATFORM = "slack"
SECTION_LIMIT = 3000  # Block Kit: text in a section block
FIELD_LIMIT = 2000  # Block Kit: each field of a section
MESSAGE_LIMIT = 39000  # chat.postMessage text (Slack truncates past 40,000)
INPUT_LIMIT = 3000  # Block Kit: a plain_text_input's max_length (and so its initial_value)

# the feedback modal: its callback_id and its fields (each input's block_id is its action_id too)
FEEDBACK_FORM = "feedback.form"
FEEDBACK_OUTCOME = "feedback.outcome"  # the modal after submitting: an offer or what was logged
WHAT, CUSTOMERS, DEPARTMENT, IMPORTANCE_FIELD, QUOTE = "what", "customers", "department", "importance", "quote"


def escape(text: str) -> str:
    """Customer text is shown as written: no accidental @channel, links or formatting tricks.
    Slack's formatting rules: only these three characters are control characters in message text.
    Every neutral text passes here exactly once, inside this module; callers hand over plain words."""
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


# the unfinished end of an entity (&am) or of a token of ours (<@U12, <!date^…) at the end of a cut
_OPEN_TAIL = re.compile(r"&[#0-9a-zA-Z]*$|<[^>]*$")


def _clip(text: str, limit: int) -> str:
    """Cut mrkdwn made here (escaped words, our own <@U…> and <!date…> tokens) to ``limit``, never
    inside an entity or a token: half of "&amp;" shows as "&am", half of "<@U1>" as raw markup."""
    if len(text) <= limit:
        return text
    return _OPEN_TAIL.sub("", text[: limit - 1]) + "…"


def _clip_plain(text: str, limit: int) -> str:
    """Cut a plain_text object's text (Slack shows it as is, nothing to keep whole)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_text(text: str) -> str:
    """A neutral text (a thread post, a DM) as a message's top-level ``text``."""
    return _clip(escape(text), MESSAGE_LIMIT)


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
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_clip(escape(card.title), SECTION_LIMIT - 2)}*"}}
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
    title = escape(card.title)
    return _clip(f"{title} — from {who}" if who else title, SECTION_LIMIT)


def _reply_mrkdwn(reply: Reply) -> str:
    return rich(reply.rich) if reply.rich else escape(reply.text)


def reply_blocks(reply: Reply) -> list[dict]:
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn",
                                                       "text": _clip(_reply_mrkdwn(reply), SECTION_LIMIT)}}]
    if reply.actions:
        blocks.append({"type": "actions", "elements": [button(b) for b in reply.actions]})
    return blocks


def reply_text(reply: Reply) -> str:
    """A Reply as a message's top-level ``text`` (the notification, and what shows without blocks)."""
    return _clip(_reply_mrkdwn(reply), MESSAGE_LIMIT)


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _text_input(block_id: str, label: str, *, multiline: bool = False, optional: bool = False, initial: str = "",
                hint: str = "", placeholder: str = "") -> dict:
    element: dict = {"type": "plain_text_input", "action_id": block_id, "multiline": multiline,
                     "max_length": INPUT_LIMIT}
    if initial:
        element["initial_value"] = _clip_plain(initial, INPUT_LIMIT)
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    block = {"type": "input", "block_id": block_id, "label": _plain(label), "optional": optional, "element": element}
    if hint:
        block["hint"] = _plain(hint)
    return block


def feedback_form(*, customers: str = "", quote: str = "", ticket_id: int | None = None) -> dict:
    """The "Log feedback" modal. ``ticket_id`` travels in private_metadata, so the request is linked
    to the ticket it was heard in."""
    options = [{"text": _plain(level.capitalize()), "value": level} for level in IMPORTANCE]
    blocks: list[dict] = []
    if ticket_id is not None:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"Heard in ticket #{ticket_id}: its customer is filled in, and the feedback is linked to the ticket.")}]})
    blocks += [
        _text_input(WHAT, "What does the customer want?", multiline=True,
                    placeholder="In their terms: what they are trying to do, not a solution"),
        _text_input(CUSTOMERS, "Which customer(s)?", optional=True, initial=customers,
                    hint="Emails or names, comma separated.", placeholder="carol@example.com, Dan Doe"),
        _text_input(DEPARTMENT, "Product area or department", optional=True, placeholder="Billing"),
        {"type": "input", "block_id": IMPORTANCE_FIELD, "label": _plain("How much does it matter to them?"),
         "optional": True, "element": {"type": "static_select", "action_id": IMPORTANCE_FIELD,
                                       "placeholder": _plain("Choose"), "options": options}},
        _text_input(QUOTE, "In their words (a quote)", multiline=True, optional=True, initial=quote),
    ]
    return {
        "type": "modal",
        "callback_id": FEEDBACK_FORM,
        "title": _plain("Log feedback"),
        "submit": _plain("Log it"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"ticket_id": ticket_id}) if ticket_id is not None else "",
        "blocks": blocks,
    }


def reply_view(reply: Reply, title: str = "Log feedback") -> dict:
    """A Reply shown inside a modal: its words and its buttons (their clicks come back as
    block_actions from this view)."""
    blocks = reply_blocks(reply)
    if reply.actions:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                                                         "Nothing is logged until you choose."}]})
    return {"type": "modal", "callback_id": FEEDBACK_OUTCOME, "title": _plain(_clip_plain(title, 24)),
            "close": _plain("Close"), "blocks": blocks}


def home_view(sections: list[tuple[str, str]]) -> dict:
    """The App Home tab: a heading and a block of text for each section."""
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Pitchin*: customer questions, answered by everyone."}}
    ]
    for heading, text in sections:
        blocks.append({"type": "header", "text": _plain(_clip_plain(heading, 150))})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(escape(text), SECTION_LIMIT)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        "Type `/pitchin help` for tickets, `/feedback` to log what a customer asked for.")}]})
    return {"type": "home", "blocks": blocks}
