"""Bolt listeners: parse, call the one handler for it, say what happened. No ticket logic here."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.slack import render
from bot.slack.inbound import People, action_user, human_thread_message
from handlers import registry, tickets
from handlers.base import Reply
from handlers.context import Context

log = logging.getLogger("pitchin.slack")


def register(app: AsyncApp, ctx: Context, people: People) -> None:
    """Wire every Pitchin listener onto a Bolt app. No import side effects, no globals."""

    async def tell(respond, reply: Reply) -> None:
        await respond(
            text=render.reply_text(reply),
            blocks=render.reply_blocks(reply),
            response_type="ephemeral",
            replace_original=reply.replace_original,
        )

    def on_button(action_id: str):
        async def listener(ack, body, action, respond):
            await ack()
            user_id, name = action_user(body)
            actor = await people.actor(user_id, name)
            reply = await ctx.db.run(registry.run_action, ctx, actor, action_id, action.get("value"))
            await tell(respond, reply)

        return listener

    for action_id in registry.ACTIONS:
        app.action(action_id)(on_button(action_id))

    async def on_message(event, context):
        parsed = human_thread_message(event, context.get("bot_user_id"))
        if parsed is None:
            return
        thread, source, text = parsed
        ticket_id = await ctx.db.run(tickets.ticket_in_thread, ctx, thread)
        if ticket_id is None:
            return  # a thread in some other conversation: none of Pitchin's business
        actor = await people.actor(event["user"])
        reply = await ctx.db.run(tickets.answer, ctx, actor, ticket_id, text, source)
        if reply is not None:
            await context.client.chat_postEphemeral(
                channel=thread.channel,
                user=actor.user_id,
                thread_ts=thread.thread_id,
                text=render.reply_text(reply),
                blocks=render.reply_blocks(reply),
            )

    app.event("message")(on_message)

    async def on_command(ack, command, respond):
        await ack()
        actor = await people.actor(command["user_id"], command.get("user_name", ""))
        reply = await ctx.db.run(registry.run_command, ctx, actor, command.get("text", ""), "/pitchin ")
        await tell(respond, reply)

    app.command("/pitchin")(on_command)

    async def on_mention(event, say):
        await say(text=registry.help_text("/pitchin "), thread_ts=event.get("thread_ts") or event.get("ts"))

    app.event("app_mention")(on_mention)

    async def on_home(event, client):
        text = (await ctx.db.run(tickets.list_open, ctx)).text
        await client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "*Pitchin*: customer questions, answered by everyone."}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": render.escape(text)[:2900]}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Type `/pitchin help` for commands."}]},
                ],
            },
        )

    app.event("app_home_opened")(on_home)

    async def on_error(error, body, logger):
        logger.error("Slack listener failed: %s (%s)", error, (body or {}).get("type"), exc_info=error)

    app.error(on_error)
