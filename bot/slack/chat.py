"""SlackChat: the support channel on Slack, as the delivery worker uses it (handlers' ChatPort)."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.refusals import Refused
from bot.slack import refusals, render
from handlers.base import Card, DeliveryError, DeliveryMark, MessageRef, ThreadRef

PLATFORM = "slack"
TENANT = ""  # Slack channel and user ids are unique across workspaces; no tenant needed in keys

# Slack errors that trying again cannot mend: the message or channel is gone or closed to Pitchin,
# the person cannot be written to, the text itself is refused. The token, scope and channel errors
# an admin must mend (refusals.EXPLAINED) end the job too, and are explained once (bot/refusals.py).
PERMANENT = frozenset({
    "message_not_found", "thread_not_found",
    "cant_update_message", "edit_window_closed", "msg_too_long", "no_text", "invalid_blocks",
    "too_many_attachments", "user_not_found", "cannot_dm_bot", "messages_tab_disabled", "restricted_action",
    "no_such_subteam", "subteam_not_found", "invalid_users", "user_is_bot", "user_is_restricted",
})

# delivery state → reactions to add (True) or take away (False), in that order
REACTIONS: dict[str, tuple[tuple[str, bool], ...]] = {
    "sent": (("white_check_mark", True),),
    "recovered": (("white_check_mark", True), ("warning", False)),
    "failed": (("warning", True),),
    "gave_up": (("warning", True),),
}


class SlackChat:
    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, channel: str):
        self.client = client
        self.channel = channel

    async def _call(self, method: str, harmless: tuple[str, ...] = (), **kwargs) -> dict:
        try:
            response = await self.client.api_call(method, json=kwargs)
            return response.data
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error in harmless:
                return {"ok": True}
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429:
                retry_after = float(exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1)))
                raise DeliveryError(f"Slack rate-limited {method}", retry_after=retry_after) from exc
            message = f"Slack refused {method}: {error or status}"
            explained = refusals.refusal(error, kwargs.get("channel"), self.channel, exc.response.data) \
                if error in refusals.EXPLAINED else None
            if explained is not None:
                raise Refused(message, explained) from exc
            raise DeliveryError(message, permanent=error in PERMANENT or error in refusals.EXPLAINED) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryError(f"could not reach Slack for {method}: {type(exc).__name__} {exc}") from exc

    async def post_ticket(self, card: Card) -> ThreadRef:
        data = await self._call(
            "chat.postMessage",
            channel=self.channel,
            text=render.card_text(card),
            blocks=render.card_blocks(card),
            unfurl_links=False,
            unfurl_media=False,
        )
        return ThreadRef(PLATFORM, TENANT, data["channel"], data["ts"])

    async def update_ticket(self, thread: ThreadRef, card: Card) -> None:
        await self._call(
            "chat.update",
            channel=thread.channel,
            ts=thread.thread_id,
            text=render.card_text(card),
            blocks=render.card_blocks(card),
        )

    async def post_in_thread(self, thread: ThreadRef, text: str, card: Card | None = None) -> MessageRef:
        data = await self._call(
            "chat.postMessage",
            channel=thread.channel,
            thread_ts=thread.thread_id,
            unfurl_links=False,
            unfurl_media=False,
            **_content(text, card),
        )
        return MessageRef(PLATFORM, TENANT, data["channel"], data["ts"], thread.thread_id)

    async def mark_delivery(self, mark: DeliveryMark) -> None:
        """Slack shows delivery as reactions on the employee's own message: ✅ sent, ⚠️ not yet."""
        for emoji, add in REACTIONS.get(mark.state, ()):
            if add:
                await self._call("reactions.add", harmless=("already_reacted",), channel=mark.message.channel,
                                 timestamp=mark.message.message_id, name=emoji)
            else:
                await self._call("reactions.remove", harmless=("no_reaction",), channel=mark.message.channel,
                                 timestamp=mark.message.message_id, name=emoji)

    async def post_to_channel(self, channel: str, text: str, card: Card | None = None) -> MessageRef:
        data = await self._call("chat.postMessage", channel=channel, unfurl_links=False, unfurl_media=False,
                                **_content(text, card))
        return MessageRef(PLATFORM, TENANT, data["channel"], data["ts"])

    async def direct(self, tenant: str, user_id: str, text: str, card: Card | None = None) -> None:
        """A message in the person's DM with Pitchin (the app's Messages tab)."""
        await self._call("chat.postMessage", channel=user_id, **_content(text, card))

    async def set_usergroup(self, usergroup: str, users: list[str]) -> None:
        """A user group's members become ``users`` (a rotation's group follows whoever is on duty);
        needs the usergroups:write scope."""
        await self._call("usergroups.users.update", usergroup=usergroup, users=",".join(users))


def _content(text: str, card: Card | None) -> dict:
    """A post's words (escaped by render), or a card with its words as the notification text."""
    if card is None:
        return {"text": render.message_text(text)}
    return {"text": render.message_text(text) if text else render.card_text(card), "blocks": render.card_blocks(card)}
