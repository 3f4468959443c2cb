"""Refusals an admin must mend: Slack or Teams says no to Pitchin's token, scopes or a channel.

Trying again cannot help (every job to that channel, or every job at all, fails the same way), so
the platform adapters raise ``Refused``: the job ends at once, and the delivery worker explains the
refusal once instead of once per job — in the log (once per process per ``Refusal.key``) and, where
a post can get through, in the platform's support channel (once a day per key, recorded in the
database: see ``storage.repos.first_time_in``)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.base import DeliveryError


@dataclass(frozen=True)
class Refusal:
    platform: str  # "slack", "teams"
    error: str  # the platform's word for it: "not_in_channel", "HTTP 403"
    place: str  # the channel refused, or "" when the refusal is about the whole app (its token)
    advice: str  # what happened and what to do, in one or two sentences
    tell_in: str | None  # the support channel to explain it in, or None when no post could get through

    @property
    def key(self) -> str:
        """One explanation per (platform, error, channel)."""
        return f"{self.platform}:{self.error}:{self.place}"

    def notice(self) -> str:
        """The support channel's post: neutral text (the platform renderer escapes it)."""
        return (f"⚠️ {self.platform.capitalize()} refused Pitchin ({self.error}). {self.advice} "
                f"Until then each job refused this way ends at once, undone.")


class Refused(DeliveryError):
    """A permanent refusal that comes with advice (bot/delivery.py explains it once)."""

    def __init__(self, message: str, refusal: Refusal):
        super().__init__(message, permanent=True)
        self.refusal = refusal
