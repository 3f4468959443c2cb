"""Bolt listeners: parse, call the one handler for it, say what happened. No ticket logic here."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.slack import (ai as slack_ai, answer, feedback as slack_feedback, plain, render, saved as slack_saved,
                       use_saved as slack_use_saved)
from bot.slack.inbound import People, action_user, human_thread_message, named_in
from handlers import feedback, registry, tickets
from handlers.base import Reply
from handlers.context import Context

log = logging.getLogger("pitchin.slack")


def register(app: AsyncApp, ctx: Context, people: People) -> None:
    """Wire every Pitchin listener onto a Bolt app. No import side effects, no globals."""

    def on_button(action_id: str):
        async def listener(ack, body, action, respond, client):
            await ack()
            user_id, name = action_user(body)
            actor = await people.actor(user_id, name)
            reply = await ctx.run(registry.run_action, ctx, actor, action_id, action.get("value"))
            view = body.get("view") or {}
            if view.get("type") == "modal":  # a button inside Pitchin's modal (the feedback offer)
                await answer.in_view(client, view["id"], reply, actor.user_id)
            else:
                await answer.tell(respond, reply)

        return listener

    for action_id in (*registry.ACTIONS, *registry.TEXT_ACTIONS):
        app.action(action_id)(on_button(action_id))

    async def on_message(event, context):
        parsed = human_thread_message(event, context.get("bot_user_id"))
        if parsed is None:
            return
        thread, source, text = parsed
        ticket_id = await ctx.run(tickets.ticket_in_thread, ctx, thread)
        if ticket_id is None:
            return  # a thread in some other conversation: none of Pitchin's business
        actor = await people.actor(event["user"])
        # the customer reads plain text: "our page (https://…)", "Bob", "a < b", never Slack's markup
        text = await plain.plain_text(text, people)
        reply = await ctx.run(tickets.answer, ctx, actor, ticket_id, text, source)
        if reply is not None:
            await context.client.chat_postEphemeral(
                channel=thread.channel,
                user=actor.user_id,
                thread_ts=thread.thread_id,
                text=render.reply_text(reply),
                blocks=render.reply_blocks(reply),
            )

    app.event("message")(on_message)

    async def on_command(ack, command, respond, client):
        await ack()
        actor = await people.actor(command["user_id"], command.get("user_name", ""))
        text, named = await named_in(command.get("text", ""), people, command.get("channel_id"))
        if await slack_saved.open_typed_form(ctx, actor, text, command.get("trigger_id", ""), client, respond):
            return
        reply = await ctx.run(registry.run_command, ctx, actor, text, "/pitchin ", named)
        if reply.image is not None:  # `stats`: the chart goes to the asker's DM, the words stay here
            reply = await answer.share_image(client, actor.user_id, reply)
        await answer.tell(respond, reply)

    app.command("/pitchin")(on_command)

    async def on_mention(event, say):
        await say(text=render.message_text(registry.help_text("/pitchin ")),
                  thread_ts=event.get("thread_ts") or event.get("ts"))

    app.event("app_mention")(on_mention)

    async def on_home(event, client):
        actor = await people.actor(event["user"])
        sections = [
            ("Open tickets", (await ctx.run(tickets.list_open, ctx)).text),
            ("Top suggestions", (await ctx.run(feedback.top, ctx, "", 5)).text),
            ("Feedback you logged", (await ctx.run(feedback.logged_by, ctx, actor)).text),
        ]
        await client.views_publish(user_id=event["user"], view=render.home_view(sections))

    app.event("app_home_opened")(on_home)

    slack_feedback.register(app, ctx, people)
    slack_saved.register(app, ctx, people)
    slack_ai.register(app, ctx, people)
    slack_use_saved.register(app, ctx, people)

    async def on_error(error, body, logger, client, respond):
        """The one error boundary: log it, and tell the person, so nobody waits on a spinner."""
        body = body or {}
        logger.error("Slack listener failed: %s (%s)", error, body.get("type"), exc_info=error)
        sorry = Reply("Something went wrong inside Pitchin and it has been logged. "
                      "Check before trying again: part of it may have happened.", ok=False)
        view = body.get("view") or {}
        user_id = (body.get("user") or {}).get("id") or body.get("user_id")
        try:
            if view.get("type") == "modal" and user_id:
                await answer.in_view(client, view["id"], sorry, user_id)
            elif respond is not None:
                await answer.tell(respond, sorry)
        except (SlackApiError, aiohttp.ClientError, OSError) as exc:  # Slack itself is what failed
            logger.warning("could not tell the person about the failure either: %s", exc)

    app.error(on_error)
