"""TeamsChat: the ticket channel on Teams, as the delivery worker uses it (handlers' ChatPort).

Every post is proactive: the channel's conversation reference (stored when someone said
`@Pitchin tickets here`) says which connector service to call and as whom. A ticket's card starts
its own thread (``create_conversation`` in the channel); the thread's conversation id is then
"<channel id>;messageid=<card's activity id>", and everything about the ticket goes there.
"""

from __future__ import annotations

import logging
from copy import deepcopy
from typing import Awaitable, Callable

import aiohttp
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import (Activity, ChannelAccount, ConversationAccount, ConversationParameters,
                               ConversationReference, ErrorResponseException)
from msrest.exceptions import ClientRequestError

from bot.refusals import Refusal, Refused
from bot.teams import render
from bot.teams.inbound import PLATFORM, split_conversation, thread_conversation
from handlers import channels
from handlers.base import Card, DeliveryError, DeliveryMark, MessageRef, ThreadRef
from handlers.context import Context

log = logging.getLogger("pitchin.teams")

NO_CHANNEL = "no Teams channel has been chosen for tickets yet: say `@Pitchin tickets here` in one"
# errors that will not go away by trying again: a malformed request, a message or conversation that
# is gone (404), a conversation the bot is no longer in (403: removed from the team or the chat)
PERMANENT = {400, 403, 404}
# the Bot Framework's code for a conversation that is not there (a deleted channel or team); a 404
# with another code is one message gone, which only that message's job needs to know
CONVERSATION_NOT_FOUND = "ConversationNotFound"


class TeamsChat:
    platform = PLATFORM

    def __init__(self, adapter: BotAdapter, app_id: str, ctx: Context):
        self.adapter = adapter
        self.app_id = app_id
        self.ctx = ctx
        self._service_urls: dict[str, str] = {}  # tenant → the newest serviceUrl Teams sent

    def remember_service_url(self, tenant: str, url: str | None) -> None:
        """Teams may move a tenant to another connector address; incoming activities carry the current one."""
        if url:
            self._service_urls[tenant] = url

    # ------------------------------------------------------------ calling the connector

    async def _channel(self) -> ConversationReference:
        stored = await self.ctx.run(channels.ticket_channel, self.ctx, PLATFORM)
        if stored is None:
            raise DeliveryError(NO_CHANNEL, retry_after=30)
        reference = ConversationReference().deserialize(stored)
        tenant = reference.conversation.tenant_id or ""
        reference.service_url = self._service_urls.get(tenant, reference.service_url)
        return reference

    async def _in(self, conversation_id: str, what: str, work: Callable[[TurnContext], Awaitable]) -> None:
        """Run ``work`` with a turn in ``conversation_id`` (the ticket channel's service and bot)."""
        reference = deepcopy(await self._channel())
        reference.conversation = ConversationAccount(id=conversation_id, is_group=True, conversation_type="channel",
                                                     tenant_id=reference.conversation.tenant_id)

        async def turn(context: TurnContext) -> None:
            # a proactive turn has a made-up activity id; do not send "in reply to" it
            context.activity.id = None
            await work(context)

        await self._guard(what, self.adapter.continue_conversation(reference, turn, self.app_id),
                          split_conversation(conversation_id)[0], reference.conversation.id)

    @staticmethod
    async def _guard(what: str, call: Awaitable, place: str | None = None, ticket_channel: str | None = None):
        """The one place connector errors become DeliveryError (retried by the worker). ``place``:
        the channel the call is about, so that a refusal of it can be explained (_refusal)."""
        try:
            return await call
        except ErrorResponseException as exc:
            response = exc.response
            status = response.status_code if response is not None else 0
            retry_after = None
            if response is not None and response.headers.get("Retry-After", "").isdigit():
                retry_after = float(response.headers["Retry-After"])
            message = f"Teams refused {what}: HTTP {status}"
            code = getattr(getattr(getattr(exc, "error", None), "error", None), "code", None)
            explained = _refusal(status, code, place, ticket_channel)
            if explained is not None:
                raise Refused(message, explained) from exc
            raise DeliveryError(message, retry_after=retry_after, permanent=status in PERMANENT) from exc
        except (ClientRequestError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryError(f"could not reach Teams for {what}: {type(exc).__name__}") from exc

    async def _send(self, conversation_id: str, activity: Activity, what: str) -> str:
        sent: dict[str, str] = {}

        async def work(context: TurnContext) -> None:
            response = await context.send_activity(activity)
            sent["id"] = response.id if response else ""

        await self._in(conversation_id, what, work)
        return sent["id"]

    async def _update(self, conversation_id: str, activity_id: str, activity: Activity, what: str) -> None:
        activity.id = activity_id

        async def work(context: TurnContext) -> None:
            await context.update_activity(activity)

        await self._in(conversation_id, what, work)

    # ------------------------------------------------------------ ChatPort

    async def _new_thread(self, channel: str | None, activity: Activity, what: str) -> ThreadRef:
        """Start a thread in ``channel`` (None: the ticket channel) with ``activity``. Any channel of
        the ticket channel's organisation is reached as the ticket channel is: same bot, same service."""
        reference = await self._channel()
        channel = channel or reference.conversation.id
        tenant = reference.conversation.tenant_id or ""
        created: dict[str, str] = {}

        async def remember(context: TurnContext) -> None:
            created["id"] = context.activity.id

        parameters = ConversationParameters(is_group=True, bot=reference.bot, tenant_id=tenant,
                                            channel_data={"channel": {"id": channel}}, activity=activity)
        await self._guard(what, self.adapter.create_conversation(
            self.app_id, remember, parameters, reference.channel_id or "msteams", reference.service_url, None),
            channel, reference.conversation.id)
        return ThreadRef(PLATFORM, tenant, channel, created["id"])

    async def post_ticket(self, card: Card) -> ThreadRef:
        return await self._new_thread(None, render.ticket_activity(card), "posting a ticket")

    async def post_to_channel(self, channel: str, text: str, card: Card | None = None) -> MessageRef:
        thread = await self._new_thread(channel, _activity(text, card), "posting in a channel")
        return MessageRef(PLATFORM, thread.tenant, channel, thread.thread_id, thread.thread_id)

    async def update_ticket(self, thread: ThreadRef, card: Card) -> None:
        await self._update(thread_conversation(thread.channel, thread.thread_id), thread.thread_id,
                           render.ticket_activity(card), "updating a ticket card")

    async def post_in_thread(self, thread: ThreadRef, text: str, card: Card | None = None) -> MessageRef:
        new_id = await self._send(thread_conversation(thread.channel, thread.thread_id), _activity(text, card),
                                  "posting in a ticket's thread")
        return MessageRef(PLATFORM, thread.tenant, thread.channel, new_id, thread.thread_id)

    async def direct(self, tenant: str, user_id: str, text: str, card: Card | None = None) -> None:
        """A private message to one person, in their personal chat with Pitchin (Teams creates it, or
        gives back the one there is): e.g. that a suggestion they logged has shipped."""
        await self.direct_activity(tenant, user_id, _activity(text, card))

    async def direct_activity(self, tenant: str, user_id: str, activity: Activity,
                              what: str = "messaging a person directly") -> None:
        """``activity`` in the person's personal chat with Pitchin (an AI draft's card, …)."""
        reference = await self._channel()
        parameters = ConversationParameters(is_group=False, bot=reference.bot, members=[ChannelAccount(id=user_id)],
                                            tenant_id=tenant, channel_data={"tenant": {"id": tenant}})

        async def send(context: TurnContext) -> None:
            context.activity.id = None  # the made-up id of the "create" turn: not a message to reply to
            await context.send_activity(activity)

        await self._guard(what, self.adapter.create_conversation(
            self.app_id, send, parameters, reference.channel_id or "msteams",
            self._service_urls.get(tenant, reference.service_url), None))

    async def mark_delivery(self, mark: DeliveryMark) -> None:
        """Teams bots cannot react: redraw Pitchin's note about the reply (its Undo card), or say it
        in the thread when there is no such note."""
        text = mark.text or render.DEFAULT_MARKS[mark.state]
        if mark.receipt is not None:
            receipt = mark.receipt
            conversation = thread_conversation(receipt.channel, receipt.thread_id or receipt.message_id)
            content = render.delivery_card(mark)
            await self._update(conversation, receipt.message_id, render.card_activity(content, text),
                               "updating a reply's note")
            return
        channel, root = split_conversation(mark.message.channel)
        root = mark.message.thread_id or root
        if root is None:
            log.warning("cannot show the delivery of Teams message %s: its thread is unknown", mark.message.message_id)
            return
        await self._send(thread_conversation(channel, root), render.text_activity(text), "saying a reply was delivered")


def _refusal(status: int, code: str | None, place: str | None, ticket_channel: str | None) -> Refusal | None:
    """What an admin must mend when the connector says 401 (Pitchin's credentials), 403 (Pitchin is
    not in the team of ``place``) or 404 ConversationNotFound (``place`` is gone); None otherwise."""
    if status == 401:  # every call fails alike, and no post can say so in Teams
        return Refusal(PLATFORM, "HTTP 401", "", (
            "The Bot Framework refused Pitchin's credentials (HTTP 401): check MICROSOFT_APP_ID, "
            "MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID against the Azure Bot resource "
            "(`pitchin doctor` checks them), then restart Pitchin."), None)
    if not place or status not in (403, 404) or (status == 404 and code != CONVERSATION_NOT_FOUND):
        return None
    ticket = place == ticket_channel
    where = f"the Teams ticket channel {place}" if ticket else f"Teams channel {place}"
    if status == 403:
        advice = (f"Pitchin is not a member of {where} (HTTP 403): add the Pitchin app to its team "
                  f"(the team's … menu → Manage team → Apps).")
    else:
        advice = (f"{where[0].upper()}{where[1:]} is gone (HTTP 404, {code}): the channel or its team was "
                  f"deleted; choose another channel{' with `@Pitchin tickets here`' if ticket else ''}.")
    return Refusal(PLATFORM, f"HTTP {status}", place, advice, None if ticket else ticket_channel)


def _activity(text: str, card: Card | None) -> Activity:
    return render.ticket_activity(card) if card is not None else render.text_activity(text)
