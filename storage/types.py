"""Neutral types that storage and the core share: who acts, where a thread lives, who is shown.

They sit below both layers (imports point one way: bot → handlers → storage), so this module
imports nothing of ours. ``handlers.base`` re-exports them for the code above.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Actor:
    """A person acting on a chat platform (an employee clicking or replying)."""

    platform: str  # "slack", "teams", "console"
    user_id: str
    name: str = ""
    email: str | None = None
    tenant: str = ""  # Slack team id, Teams tenant id
    tz: str | None = None  # their IANA time zone, where their platform says (Slack's profile, Teams' client)


@dataclass(frozen=True)
class ThreadRef:
    """Where a conversation lives on a platform: Slack channel + root ts, Teams reply chain."""

    platform: str
    tenant: str
    channel: str
    thread_id: str


@dataclass(frozen=True)
class PersonRef:
    """A person as shown in a card: renderers mention them natively where they can."""

    name: str
    ids: tuple[tuple[str, str], ...] = ()  # ((platform, user_id), ...)

    def id_on(self, platform: str) -> str | None:
        for p, uid in self.ids:
            if p == platform:
                return uid
        return None
