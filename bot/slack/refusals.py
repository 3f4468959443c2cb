"""Slack's refusals that an admin must mend, and what Pitchin says about them (bot/refusals.py)."""

from __future__ import annotations

from bot.refusals import Refusal

PLATFORM = "slack"

# the token itself is refused: every call fails alike, and no post can say so in Slack
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
# a channel is closed to Pitchin: posts elsewhere (the support channel) still go through
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
EXPLAINED = TOKEN_ERRORS | CHANNEL_ERRORS | {"missing_scope"}


def _channel_advice(error: str, where: str) -> str:
    if error == "not_in_channel":
        return f"Pitchin is not in {where}: invite it with /invite @Pitchin in that channel."
    if error == "is_archived":
        return f"{where[0].upper()}{where[1:]} is archived: unarchive it, or choose another channel."
    return (f"Slack has no {where} that Pitchin can see: check the channel id (a private channel must invite "
            f"Pitchin first: /invite @Pitchin).")


def refusal(error: str, channel: str | None, support_channel: str, data: dict) -> Refusal | None:
    """The advice for a Slack ``error`` answered to a call about ``channel`` (None: not about a
    channel), or None when the error is not one an admin must mend. ``data``: Slack's answer, whose
    ``needed``/``provided`` fields name the scopes of a missing_scope."""
    if error in TOKEN_ERRORS:
        return Refusal(PLATFORM, error, "", (
            f"Slack refused SLACK_BOT_TOKEN ({error}): check the token (the app's OAuth & Permissions page, "
            f"Bot User OAuth Token, xoxb-…) or reinstall the app to the workspace, then restart Pitchin "
            f"(`pitchin doctor` checks the token)."), None)
    if error == "missing_scope":
        needed = str(data.get("needed") or "a scope")
        provided = str(data.get("provided") or "")
        has = f" (it has {provided})" if provided else ""
        # without chat:write nothing can be posted, so no post could say so
        tell_in = None if needed.startswith("chat:write") else support_channel
        return Refusal(PLATFORM, f"missing_scope {needed}", "", (
            f"The Slack app lacks the {needed} scope{has}: add it under OAuth & Permissions (manifest.yml lists "
            f"every scope Pitchin needs) and reinstall the app."), tell_in)
    if error in CHANNEL_ERRORS and channel:
        support = channel == support_channel
        where = f"the support channel {channel} (PITCHIN_SUPPORT_CHANNEL)" if support else f"channel {channel}"
        return Refusal(PLATFORM, error, channel, _channel_advice(error, where), None if support else support_channel)
    return None
