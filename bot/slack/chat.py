"""SlackChat: the support channel on Slack, as the delivery worker uses it (handlers' ChatPort)."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import render
from handlers.base import Card, DeliveryError, DeliveryMark, MessageRef, ThreadRef

PLATFORM = "slack"
TENANT = ""  # Slack channel and user ids are unique across workspaces; no tenant needed in keys

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
            raise DeliveryError(f"Slack refused {method}: {error or status}") from exc
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
        kwargs = {"blocks": render.card_blocks(card)} if card else {}
        data = await self._call(
            "chat.postMessage",
            channel=thread.channel,
            thread_ts=thread.thread_id,
            text=render.message_text(text),
            unfurl_links=False,
            unfurl_media=False,
            **kwargs,
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

    async def direct(self, tenant: str, user_id: str, text: str) -> None:
        """A message in the person's DM with Pitchin (the app's Messages tab)."""
        await self._call("chat.postMessage", channel=user_id, text=render.message_text(text))
