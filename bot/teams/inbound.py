"""Teams activities → neutral types. Names come from the activity, emails from the team roster
(TeamsInfo.get_member), cached."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ErrorResponseException
from msrest.exceptions import ClientRequestError

from bot.html_text import html_to_text
from handlers.base import Actor, MessageRef, Named, ThreadRef

log = logging.getLogger("pitchin.teams")

PLATFORM = "teams"
# a channel message's conversation id is "<channel id>;messageid=<id of the thread's first message>"
THREAD_MARK = ";messageid="
# Teams sends what a person wrote as HTML once it has any formatting, a link or a mention in it
_LOOKS_HTML = re.compile(r"</?(?:p|div|br|a|b|i|u|s|em|strong|span|at|ul|ol|li|h[1-6]|blockquote|pre|code|strike|del"
                         r"|img|table|tr|td|th)\b[^>]*>|&(?:[a-z]+|#\d+|#x[0-9a-f]+);", re.IGNORECASE)


def split_conversation(conversation_id: str) -> tuple[str, str | None]:
    """("19:…@thread.tacv2;messageid=17…") → ("19:…@thread.tacv2", "17…"); no thread → (id, None)."""
    channel, _, root = conversation_id.partition(THREAD_MARK)
    return channel, root or None


def thread_conversation(channel: str, root: str) -> str:
    return f"{channel}{THREAD_MARK}{root}"


def tenant_of(activity: Activity) -> str:
    if activity.conversation is not None and activity.conversation.tenant_id:
        return activity.conversation.tenant_id
    tenant = (activity.channel_data or {}).get("tenant") if isinstance(activity.channel_data, dict) else None
    return (tenant or {}).get("id", "")


def in_channel(activity: Activity) -> bool:
    return activity.conversation is not None and activity.conversation.conversation_type == "channel"


def thread_of(activity: Activity) -> ThreadRef | None:
    """The channel thread an activity happened in (a new post is the root of its own thread)."""
    if not in_channel(activity):
        return None
    channel, root = split_conversation(activity.conversation.id)
    root = root or activity.reply_to_id or activity.id
    return ThreadRef(PLATFORM, tenant_of(activity), channel, root) if root else None


def message_ref(activity: Activity) -> MessageRef:
    channel, root = split_conversation(activity.conversation.id)
    return MessageRef(PLATFORM, tenant_of(activity), channel, activity.id or "", root)


def from_bot(activity: Activity) -> bool:
    sender = activity.from_property
    return sender is None or sender.id == activity.recipient.id or (sender.role or "") == "bot"


def _bot_mentions(activity: Activity) -> list[dict]:
    found = []
    for mention in TurnContext.get_mentions(activity):
        props = mention.additional_properties or {}
        if (props.get("mentioned") or {}).get("id") == activity.recipient.id:
            found.append(props)
    return found


def mentions_bot(activity: Activity) -> bool:
    return bool(_bot_mentions(activity))


def clean_text(activity: Activity) -> str:
    """What a person wrote, as plain text (it may go to a customer): without the `<at>Pitchin</at>`
    that addressed the bot; other people's mentions become their plain names, links
    "label (address)", entities characters, paragraphs and line breaks new lines.

    Not botbuilder's TurnContext.remove_recipient_mention: it deletes the bot's name wherever it
    appears ("Pitchin will email you" loses a word) and misses a mention entity without a "text"."""
    text = activity.text or ""
    for mention in _bot_mentions(activity):
        tag = mention.get("text") or f"<at>{(mention.get('mentioned') or {}).get('name', '')}</at>"
        text = text.replace(tag, "")
    return html_text(text) if _LOOKS_HTML.search(text) else text.strip()


# a mention's place in the text while the HTML around it is read (private-use characters: never typed)
_MARK = "\ue000{}\ue001"
_MARKED = re.compile("\ue000(\\d+)\ue001")


async def named_in(turn_context: TurnContext, people: "People") -> tuple[str, Named]:
    """A command's text with each person (or channel) mentioned in it made a neutral token
    (``<person:0>``, ``<channel:0>``) and what they are; the ``<at>Pitchin</at>`` that addressed the
    bot gone. Teams sends a mention as ``<at>Ann</at>`` in the text plus an entity with her id."""
    activity = turn_context.activity
    text = activity.text or ""
    tenant = tenant_of(activity)
    found: list[tuple[str, str, str]] = []  # (kind, id, name), in order of first mention
    for mention in TurnContext.get_mentions(activity):
        props = mention.additional_properties or {}
        who = props.get("mentioned") or {}
        ident, name = who.get("id") or "", who.get("name") or ""
        tag = props.get("text") or f"<at>{name}</at>"
        if ident == activity.recipient.id:
            text = text.replace(tag, "")
            continue
        kind = "channel" if ident.startswith("19:") else "person"  # a channel's id is its conversation id
        if (kind, ident, name) not in found:
            found.append((kind, ident, name))
        text = text.replace(tag, _MARK.format(found.index((kind, ident, name))), 1)
    text = html_text(text) if _LOOKS_HTML.search(text) else text.strip()
    index = {i: f"<{kind}:{sum(1 for k, _, _ in found[:i] if k == kind)}>" for i, (kind, _, _) in enumerate(found)}
    text = _MARKED.sub(lambda m: f" {index.get(int(m.group(1)), '')} ", text)
    actors = tuple([await people.person(turn_context, ident, name) for kind, ident, name in found if kind == "person"])
    channel, _ = split_conversation(activity.conversation.id)
    return text, Named(people=actors, channels=tuple(i for k, i, _ in found if k == "channel"),
                       here=channel if in_channel(activity) else None)


def command_words(text: str) -> str:
    """A typed command, normalised for the lookup table: "Tickets  here" → "tickets here"."""
    return " ".join(text.lower().split())


def card_action(activity: Activity) -> tuple[str, str] | None:
    """An Adaptive Card Action.Submit: the message's value is {"action": "ticket.claim", "ticket_id": 7}
    (the id's key is named after the action's kind: ticket_id, reply_id)."""
    return button_click(activity.value)


def button_click(data) -> tuple[str, str] | None:
    """(action id, value) from a button's submit data, in a message or in a dialog: the value is the
    exact string for text actions ("3:1"), a number's digits for ticket and reply ids."""
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        return None
    action_id = data["action"]
    value = data.get(f"{action_id.partition('.')[0]}_id")
    return action_id, "" if value is None else str(value)


def invoke_data(activity: Activity) -> dict:
    """What a dialog's Action.Submit carried, with the form's inputs merged in (task/fetch, task/submit,
    and a message action's composeExtension/submitAction all put it under ``value.data``)."""
    value = activity.value if isinstance(activity.value, dict) else {}
    data = value.get("data")
    return data if isinstance(data, dict) else {}


def message_payload(activity: Activity) -> dict:
    """The message a message action was used on (``value.messagePayload``)."""
    value = activity.value if isinstance(activity.value, dict) else {}
    payload = value.get("messagePayload")
    return payload if isinstance(payload, dict) else {}


def payload_text(payload: dict) -> str:
    """A message action's message as plain text (Teams sends its body as HTML)."""
    body = payload.get("body") or {}
    content = body.get("content") or ""
    if (body.get("contentType") or "").lower() != "html":
        return content.strip()
    return html_text(content)


def payload_thread(activity: Activity, payload: dict) -> ThreadRef | None:
    """The channel thread of the message a message action was used on: the invoke's conversation is
    "<channel>;messageid=<root>"; the message's own replyToId (or, for a root, its id) when it is not."""
    if not in_channel(activity):
        return None
    channel, root = split_conversation(activity.conversation.id)
    root = root or payload.get("replyToId") or payload.get("id")
    return ThreadRef(PLATFORM, tenant_of(activity), channel, str(root)) if root else None


def html_text(html: str) -> str:
    """Teams' message HTML as text: tags gone, entities decoded, a line per paragraph (Teams makes
    a <p> of every line a person types, so no blank lines between them)."""
    lines = (" ".join(line.split()) for line in html_to_text(html).splitlines())
    return "\n".join(line for line in lines if line)


class People:
    """Who is acting: the name from the activity, the email from the roster, cached for an hour."""

    def __init__(self, ttl: float = 3600.0):
        self.ttl = ttl
        self._emails: dict[tuple[str, str], tuple[float, str | None]] = {}

    async def actor(self, turn_context: TurnContext) -> Actor:
        activity = turn_context.activity
        user = activity.from_property
        found = await self.person(turn_context, user.id, user.name or "")
        # the zone of the person's Teams client: rotations default to it and show times in it
        return replace(found, tz=activity.local_timezone or None)

    async def person(self, turn_context: TurnContext, user_id: str, name: str) -> Actor:
        """Anyone in the activity's team or chat (the sender, someone mentioned), with the roster's email."""
        tenant = tenant_of(turn_context.activity)
        key = (tenant, user_id)
        hit = self._emails.get(key)
        if hit is None or hit[0] < time.monotonic():
            hit = (time.monotonic() + self.ttl, await self._email(turn_context, user_id))
            self._emails[key] = hit
        return Actor(PLATFORM, user_id, name=name, email=hit[1], tenant=tenant)

    @staticmethod
    async def _email(turn_context: TurnContext, user_id: str) -> str | None:
        try:
            member = await TeamsInfo.get_member(turn_context, user_id)
        except (ErrorResponseException, ClientRequestError) as exc:
            log.info("Teams did not say who %s is (%s); known by id only", user_id, exc)
            return None
        except (ValueError, TypeError):  # not in a team or chat Teams can be asked about (tests, the emulator)
            return None
        for candidate in (member.email, member.user_principal_name):
            if candidate and "@" in candidate:
                return candidate
        return None
