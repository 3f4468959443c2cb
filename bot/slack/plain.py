"""Slack message text → plain text, for what leaves Slack: an employee's reply to a customer, a quote.

Slack sends what a person typed in its own markup: ``&``, ``<`` and ``>`` as entities, links as
``<https://…|label>``, mentions as ``<@U2>``, channels as ``<#C1|name>``. A customer reading
``<@U2>`` or ``a &lt; b`` learns nothing; they get ``Bob``, ``a < b`` and ``label (https://…)``.
Formatting marks (``*bold*``, ``_italic_``, backticks) stay: they read well as plain text.
"""

from __future__ import annotations

import re
from typing import Mapping

from bot.slack.inbound import People

# Slack escapes every <, > and & a person types, so a raw "<…>" is always one of Slack's tokens
TOKEN = re.compile(r"<([^<>]*)>")
BROADCASTS = {"here", "channel", "everyone"}


def unescape(text: str) -> str:
    """Slack's three entities back to characters (&amp; last, so "&amp;lt;" stays "&lt;")."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _tokens(text: str) -> list[tuple[str, str]]:
    """Every token as (target, label): "<https://x|our page>" → ("https://x", "our page")."""
    out = []
    for match in TOKEN.finditer(text):
        target, _, label = match.group(1).partition("|")
        out.append((target, label))
    return out


def mentioned_users(text: str) -> set[str]:
    return {target[1:] for target, _ in _tokens(text) if target.startswith("@") and len(target) > 1}


def unnamed_channels(text: str) -> set[str]:
    """Channels referenced without a name: Slack now sends "<#C123|>" with an empty label."""
    return {target[1:] for target, label in _tokens(text) if target.startswith("#") and not label}


def _special(target: str, label: str) -> str:
    """<!here>, <!subteam^S1|@team>, <!date^1700000000^{date}|Nov 14>, …"""
    name = target[1:].partition("^")[0]
    if name in BROADCASTS:
        return f"@{name}"
    if label:
        return label
    return "" if name == "date" else f"@{target[1:].partition('^')[2] or name}"


def _token(target: str, label: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    target, label = unescape(target), unescape(label)
    if target.startswith("@"):
        return users.get(target[1:]) or label or target
    if target.startswith("#"):
        return "#" + (label or channels.get(target[1:]) or target[1:])
    if target.startswith("!"):
        return _special(target, label)
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    return f"{label} ({target})" if label and label != target else target


def to_plain(text: str, users: Mapping[str, str] | None = None, channels: Mapping[str, str] | None = None) -> str:
    """``users`` and ``channels`` map ids to names (unknown ones show as their id)."""
    users, channels = users or {}, channels or {}
    out, pos = [], 0
    for match in TOKEN.finditer(text):
        out.append(unescape(text[pos:match.start()]))
        target, _, label = match.group(1).partition("|")
        out.append(_token(target, label, users, channels))
        pos = match.end()
    out.append(unescape(text[pos:]))
    return "".join(out)


async def plain_text(text: str, people: People) -> str:
    """The same, with people's and channels' names asked of Slack (cached in ``people``)."""
    users = {uid: (await people.actor(uid)).name for uid in mentioned_users(text)}
    channels = {cid: await people.channel_name(cid) for cid in unnamed_channels(text)}
    return to_plain(text, users, channels)
