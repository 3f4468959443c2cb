"""The Teams ActivityHandler: parse, call the one handler for it, say what happened. No ticket logic here."""

from __future__ import annotations

from typing import Awaitable, Callable

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import ChannelAccount, ConversationAccount

from bot.teams import render
from bot.teams.ai import TeamsDrafts
from bot.teams.chat import TeamsChat
from bot.teams.feedback import TeamsFeedback
from bot.teams.saved import TeamsSaved
from bot.teams.use_saved import TeamsUseSaved
from bot.teams.inbound import (PLATFORM, People, card_action, clean_text, command_words, from_bot, in_channel,
                               mentions_bot, message_ref, named_in, split_conversation, tenant_of, thread_of)
from handlers import channels, charts, outbound, registry, tickets
from handlers.base import Actor, MessageRef, Reply
from handlers.cards import USE_SAVED_REPLY
from handlers.context import Context

PREFIX = "@Pitchin "
# shown literally (render.reply_card: a reply is never read as markdown), so plain words and quotes
GREETING = (
    "Hi, I'm Pitchin: customer emails and web-form messages become tickets here that anyone can claim "
    "and answer.\n\nTo start, say “@Pitchin tickets here” in the channel where tickets should go. "
    "“@Pitchin help” lists everything I understand."
)


def help_text() -> str:
    lines = ["Pitchin commands (in a channel, start with @Pitchin):",
             "- tickets here: post new tickets in this channel"]
    lines += [f"- {c.usage}: {c.help}" for c in registry.COMMANDS.values()]
    lines += ["- feedback <what the customer wants>: log a suggestion (alone: the form); "
              "“feedback help” lists merge, status, show, top, search and export",
              "Answer a ticket in its replies; start with “note:” to keep a message internal.",
              "On any message: … → More actions → Log as feedback.",
              "On an answer that went to a customer: … → More actions → Save as reply."]
    return "\n".join(lines)


class PitchinBot(ActivityHandler):
    def __init__(self, ctx: Context, chat: TeamsChat, people: People):
        self.ctx = ctx
        self.chat = chat
        self.people = people
        self.feedback = TeamsFeedback(ctx, people)
        self.saved = TeamsSaved(ctx, people)
        self.drafts = TeamsDrafts(ctx, chat, people)  # AI drafts: never shown in a channel
        self.use_saved = TeamsUseSaved(ctx, chat, people)
        # typed commands Teams has and the other platforms do not; everything else is registry.COMMANDS
        self.commands: dict[str, Callable[[TurnContext, Actor], Awaitable[Reply]]] = {
            "tickets here": self._tickets_here,
            "help": self._help,
        }
        # typed commands followed by words of their own: first word → handler(turn, actor, the rest)
        self.verbs: dict[str, Callable[[TurnContext, Actor, str], Awaitable[Reply | None]]] = {
            "feedback": self.feedback.command,
            "saved": self.saved.command,
            "draft": self.drafts.command,
        }
        # invoke activities (dialogs, the message action, file uploads) by name → the invoke response body
        self.invokes: dict[str, Callable[[TurnContext], Awaitable[object]]] = {
            "task/fetch": self.use_saved.fetch_or(self.feedback.fetch),
            "task/submit": self.use_saved.submit_or(self.feedback.submit),
            "composeExtension/fetchTask": self.feedback.fetch_on_message,
            "composeExtension/submitAction": self.feedback.submit_on_message,
            "fileConsent/invoke": self.feedback.file_consent,
        }

    async def _db(self, fn, *args):
        return await self.ctx.run(fn, self.ctx, *args)

    async def on_turn(self, turn_context: TurnContext):
        activity = turn_context.activity
        self.chat.remember_service_url(tenant_of(activity), activity.service_url)
        await super().on_turn(turn_context)

    # ------------------------------------------------------------ installation

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext):
        if any(m.id == turn_context.activity.recipient.id for m in members_added):
            await self._greet(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext):
        await self._greet(turn_context)

    async def _greet(self, turn_context: TurnContext) -> None:
        # Teams announces an installation twice (conversationUpdate and installationUpdate): greet once
        place, _ = split_conversation(turn_context.activity.conversation.id)
        if await self._db(channels.first_greeting, PLATFORM, place):
            await turn_context.send_activity(render.card_activity(render.reply_card(Reply(GREETING)), "Hi, I'm Pitchin"))

    # ------------------------------------------------------------ messages

    async def on_message_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        if from_bot(activity):
            return
        clicked = card_action(activity)
        if clicked is not None:
            await self._on_click(turn_context, *clicked)
            return
        text = clean_text(activity)
        addressed = mentions_bot(activity) or not in_channel(activity)  # a 1:1 chat needs no @mention
        thread = thread_of(activity)
        ticket_id = await self._db(tickets.ticket_in_thread, thread) if thread is not None else None
        if ticket_id is not None and not (addressed and self._is_command(text)):
            await self._on_answer(turn_context, ticket_id, text)
        elif addressed:
            await self._on_command(turn_context, text)

    def _is_command(self, text: str) -> bool:
        words = command_words(text)
        first = words.partition(" ")[0]
        return words in self.commands or first in registry.COMMANDS or first in self.verbs

    async def _on_answer(self, turn_context: TurnContext, ticket_id: int, text: str) -> None:
        actor = await self.people.actor(turn_context)
        source = message_ref(turn_context.activity)
        reply = await self._db(tickets.answer, actor, ticket_id, text, source)
        if reply is None:
            return
        note = await self._tell(turn_context, actor, reply)
        if reply.delivery_of is not None and note.message_id:
            await self._db(outbound.keep_receipt, reply.delivery_of, note)

    async def _on_command(self, turn_context: TurnContext, text: str) -> None:
        actor = await self.people.actor(turn_context)
        command = self.commands.get(command_words(text))
        first, *rest = text.split(None, 1) or [""]
        verb = self.verbs.get(first.lower())
        if command is not None:
            reply = await command(turn_context, actor)
        elif verb is not None:
            reply = await verb(turn_context, actor, rest[0] if rest else "")
            if reply is None:  # it answered in its own way
                return
        else:  # the registry reads people and channels from the mentions, as neutral tokens
            text, named = await named_in(turn_context, self.people)
            reply = await self._db(registry.run_command, actor, text, PREFIX, named)
            if reply.image is not None:  # `stats`: the chart in the card, by its address
                reply, image_url = await self._chart(reply)
                await self._tell(turn_context, actor, reply, image_url)
                return
        await self._tell(turn_context, actor, reply)

    async def _chart(self, reply: Reply) -> tuple[Reply, str | None]:
        """A card shows a picture only from an address Teams can fetch: the chart is kept under an
        unguessable token and served by this server, at PITCHIN_PUBLIC_URL/charts/<token>.png."""
        if not self.ctx.public_url:
            return Reply(f"{reply.text}\nThe week-by-week chart needs PITCHIN_PUBLIC_URL: Teams shows a picture only "
                         "from an address it can reach. Set it to this server's public https:// address "
                         "(or use `pitchin stats --chart FILE`).", ok=reply.ok), None
        token = await self._db(charts.keep_chart, reply.image[1])
        return reply, self.ctx.public_url + charts.chart_path(token)

    async def _on_click(self, turn_context: TurnContext, action_id: str, value: str) -> None:
        actor = await self.people.actor(turn_context)
        if action_id.startswith("ai."):  # an AI draft or summary: answered in the person's personal chat
            await self.drafts.click(turn_context, actor, action_id, value)
            return
        if action_id == USE_SAVED_REPLY:  # a client that cannot open dialogs posted the click instead
            await self._tell(turn_context, actor, Reply(
                "This button opens a dialog, which this Teams client cannot show. Open the ticket in Teams on "
                "the desktop or the web to use a saved reply, or write your answer in the ticket's replies.", ok=False))
            return
        if action_id in render.DIALOG_BUTTONS:  # a client that cannot open dialogs posted the click instead
            await self._tell(turn_context, actor, Reply(
                f"This button opens a form, which this Teams client cannot show. Type {PREFIX}feedback "
                "<what the customer wants> in the ticket's replies instead.", ok=False))
            return
        reply = await self._db(registry.run_action, actor, action_id, value)
        clicked = turn_context.activity.reply_to_id
        if reply.replace_original and clicked:
            update = render.card_activity(render.reply_card(reply), reply.text)
            update.id = clicked
            await turn_context.update_activity(update)
        elif not reply.ok or reply.actions or not action_id.startswith("ticket."):
            await self._tell(turn_context, actor, reply)
        # a click on a ticket's card that worked shows on that card, redrawn for everyone by the outbox;
        # any other (Take it on a request for cover) is answered

    # ------------------------------------------------------------ invokes

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """Dialogs and the message action, routed by the invoke's name; anything else is botbuilder's."""
        handler = self.saved.invoke_for(turn_context.activity) or self.invokes.get(turn_context.activity.name or "")
        if handler is None:
            return await super().on_invoke_activity(turn_context)
        return InvokeResponse(status=200, body=await handler(turn_context))

    async def _tell(self, turn_context: TurnContext, actor: Actor, reply: Reply,
                    image_url: str | None = None) -> MessageRef:
        """Answer the person in the thread they acted in (Teams has no private replies in a channel),
        mentioning them so they are notified."""
        content = render.reply_card(reply, to=(actor.user_id, actor.name or "you"), image_url=image_url)
        response = await turn_context.send_activity(render.card_activity(content, reply.text))
        activity = turn_context.activity
        channel, root = split_conversation(activity.conversation.id)
        return MessageRef(PLATFORM, tenant_of(activity), channel, response.id if response else "", root or activity.id)

    # ------------------------------------------------------------ Teams' own commands

    async def _tickets_here(self, turn_context: TurnContext, actor: Actor) -> Reply:
        activity = turn_context.activity
        if not in_channel(activity):
            return Reply("Say “@Pitchin tickets here” in the team channel where tickets should go.", ok=False)
        channel, _ = split_conversation(activity.conversation.id)
        reference = TurnContext.get_conversation_reference(activity)
        reference.activity_id, reference.user = None, None
        reference.conversation = ConversationAccount(id=channel, is_group=True, conversation_type="channel",
                                                     tenant_id=tenant_of(activity))
        return await self._db(channels.set_ticket_channel, actor, PLATFORM, reference.serialize(), channel)

    async def _help(self, turn_context: TurnContext, actor: Actor) -> Reply:
        return Reply(help_text())
