"""Slack payloads → neutral types. Names and emails come from users.info, cached."""

from __future__ import annotations

import html
import re
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.chat import PLATFORM, TENANT
from handlers.base import Actor, MessageRef, Named, ThreadRef

# message subtypes that are a person writing; every other subtype (edits, joins, bot posts…) is ignored
HUMAN_SUBTYPES = {None, "file_share", "thread_broadcast"}


class People:
    """users.info with a small cache, so every message does not cost a Web API call."""

    def __init__(self, client: AsyncWebClient, ttl: float = 3600.0):
        self.client = client
        self.ttl = ttl
        self._cache: dict[str, tuple[float, str, str | None, str | None]] = {}
        self._channels: dict[str, tuple[float, str]] = {}

    async def actor(self, user_id: str, fallback_name: str = "") -> Actor:
        hit = self._cache.get(user_id)
        if hit is None or hit[0] < time.monotonic():
            name, email, tz = fallback_name or user_id, None, None
            try:
                user = (await self.client.users_info(user=user_id)).get("user") or {}
                profile = user.get("profile") or {}
                name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or name
                email = profile.get("email")
                tz = user.get("tz") or None  # the IANA zone of their profile: rotations default to it
            except SlackApiError:
                pass  # without users:read the person is still known by id
            hit = (time.monotonic() + self.ttl, name, email, tz)
            self._cache[user_id] = hit
        return Actor(PLATFORM, user_id, name=hit[1], email=hit[2], tenant=TENANT, tz=hit[3])

    async def channel_name(self, channel_id: str) -> str:
        """A channel's name from conversations.info, cached; its id when Slack will not say."""
        hit = self._channels.get(channel_id)
        if hit is None or hit[0] < time.monotonic():
            name = channel_id
            try:
                name = ((await self.client.conversations_info(channel=channel_id)).get("channel") or {}).get(
                    "name") or name
            except SlackApiError:
                pass  # a private channel the app is not in: the id is all there is
            hit = (time.monotonic() + self.ttl, name)
            self._channels[channel_id] = hit
        return hit[1]


# what a slash command with should_escape: true sends for a person, a channel, a user group
_NAMED = re.compile(r"<(@|#|!subteam\^)([A-Z0-9]+)(?:\|[^>]*)?>")


async def named_in(text: str, people: People, here: str | None = None) -> tuple[str, Named]:
    """A slash command's text with each person, channel and user group Slack escaped in it
    (``<@U123|ann>``, ``<#C123|support>``, ``<!subteam^S123|@support-today>``) made a neutral token
    (``<person:0>``, …), and what they are; the rest unescaped (``&lt;`` → ``<``)."""
    found: dict[str, list] = {"@": [], "#": [], "!subteam^": []}
    kinds = {"@": "person", "#": "channel", "!subteam^": "group"}
    parts, last = [], 0
    for m in _NAMED.finditer(text):
        sigil, ident = m.group(1), m.group(2)
        items = found[sigil]
        if ident not in items:
            items.append(ident)
        parts += [html.unescape(text[last:m.start()]), f" <{kinds[sigil]}:{items.index(ident)}> "]
        last = m.end()
    parts.append(html.unescape(text[last:]))
    actors = tuple([await people.actor(uid) for uid in found["@"]])
    return "".join(parts), Named(people=actors, channels=tuple(found["#"]), groups=tuple(found["!subteam^"]), here=here)


def human_thread_message(event: dict, bot_user_id: str | None) -> tuple[ThreadRef, MessageRef, str] | None:
    """A person's message inside a thread, or None for anything Pitchin must not act on."""
    if event.get("bot_id") or event.get("subtype") not in HUMAN_SUBTYPES:
        return None
    user = event.get("user")
    if not user or user == bot_user_id:
        return None
    thread_ts, ts, channel = event.get("thread_ts"), event.get("ts"), event.get("channel")
    if not thread_ts or not ts or not channel or thread_ts == ts:
        return None
    thread = ThreadRef(PLATFORM, TENANT, channel, thread_ts)
    return thread, MessageRef(PLATFORM, TENANT, channel, ts, thread_ts), event.get("text") or ""


def action_user(body: dict) -> tuple[str, str]:
    user = body.get("user") or {}
    return user.get("id", ""), user.get("name") or user.get("username") or ""
