"""Feedback on Slack: the /feedback command, its modal, the "Log as feedback" message shortcut and the
ticket card's "Log feedback" button. Every path ends in handlers.feedback / handlers.registry."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from bot.slack import answer, plain, render
from bot.slack.chat import PLATFORM, TENANT
from bot.slack.inbound import People, action_user
from handlers import feedback, registry, tickets
from handlers.base import Reply, ThreadRef
from handlers.cards import FEEDBACK_FROM_TICKET
from handlers.context import Context
from handlers.customers import customers_field, split_customers

COMMAND = "/feedback"
SHORTCUT = "log_feedback"  # manifest.yml: features.shortcuts, type message


def draft_from_view(view: dict) -> feedback.Draft:
    """The submitted modal → a Draft. Slack sends every input's state, prefilled ones too."""
    values = (view.get("state") or {}).get("values") or {}

    def typed(field: str) -> str:
        return ((values.get(field) or {}).get(field) or {}).get("value") or ""

    selected = ((values.get(render.IMPORTANCE_FIELD) or {}).get(render.IMPORTANCE_FIELD) or {}).get("selected_option")
    try:
        ticket_id = json.loads(view.get("private_metadata") or "{}").get("ticket_id")
    except (ValueError, AttributeError):
        ticket_id = None
    return feedback.Draft(
        text=typed(render.WHAT).strip(),
        customers=split_customers(typed(render.CUSTOMERS)),
        department=typed(render.DEPARTMENT).strip(),
        importance=(selected or {}).get("value") or "",
        quote=typed(render.QUOTE).strip(),
        ticket_id=ticket_id if isinstance(ticket_id, int) else None,
    )


def form_errors(draft: feedback.Draft) -> dict[str, str]:
    """Slack shows these under the fields themselves (response_action: errors)."""
    errors = {}
    if not draft.text:
        errors[render.WHAT] = "Say what the customer wants."
    if draft.importance and draft.importance not in feedback.IMPORTANCE:
        errors[render.IMPORTANCE_FIELD] = f"Choose one of: {', '.join(feedback.IMPORTANCE)}."
    return errors


def register(app: AsyncApp, ctx: Context, people: People) -> None:
    """Wire the feedback listeners onto a Bolt app. (The Add to / Create new / Confirm buttons are
    registry.TEXT_ACTIONS and go through listeners.on_button like every other button.)"""

    async def open_form(client, trigger_id: str, draft: feedback.Draft | None = None, quote: str = "") -> None:
        draft = draft or feedback.Draft(text="")
        await client.views_open(trigger_id=trigger_id, view=render.feedback_form(
            customers=customers_field(draft.customers), quote=quote or draft.quote, ticket_id=draft.ticket_id))

    async def on_command(ack, command, respond, client):
        await ack()
        text = (command.get("text") or "").strip()
        if not text:
            await open_form(client, command["trigger_id"])
            return
        actor = await people.actor(command["user_id"], command.get("user_name", ""))
        reply = await ctx.run(registry.run_feedback, ctx, actor, text)
        if reply.file is not None:
            reply = await answer.hand_over(client, actor.user_id, reply)
        await answer.tell(respond, reply)

    app.command(COMMAND)(on_command)

    async def on_submit(ack, body, view, client):
        draft = draft_from_view(view)
        errors = form_errors(draft)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        # acknowledge at once (Slack waits 3 s); finding similar cards may take longer the first time
        await ack(response_action="update", view=render.reply_view(Reply("Logging your feedback…")))
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        reply = await ctx.run(feedback.log, ctx, actor, draft)
        await answer.in_view(client, view["id"], reply, actor.user_id)

    app.view_submission(render.FEEDBACK_FORM)(on_submit)

    async def on_shortcut(ack, shortcut, client):
        """"Log as feedback" on any message: the message becomes the quote; in a ticket's thread
        (or on the ticket's own message) the ticket's customer is filled in and the ticket linked."""
        await ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id")
        root = message.get("thread_ts") or message.get("ts")
        draft = None
        if channel and root:
            ticket_id = await ctx.run(tickets.ticket_in_thread, ctx, ThreadRef(PLATFORM, TENANT, channel, root))
            if ticket_id is not None:
                draft = await ctx.run(feedback.draft_for_ticket, ctx, ticket_id)
        quote = await plain.plain_text(message.get("text") or "", people)  # as the person wrote it
        await open_form(client, shortcut["trigger_id"], draft, quote=quote)

    app.shortcut({"type": "message_action", "callback_id": SHORTCUT})(on_shortcut)

    async def on_from_ticket(ack, body, action, respond, client):
        """The ticket card's "Log feedback" button: the form, with the ticket's customer filled in."""
        await ack()
        value = str(action.get("value") or "")
        draft = await ctx.run(feedback.draft_for_ticket, ctx, int(value)) if value.isdigit() else None
        if draft is None:
            await answer.tell(respond, Reply(f"There is no ticket #{value}; is this an old message?", ok=False))
            return
        await open_form(client, body["trigger_id"], draft)

    app.action(FEEDBACK_FROM_TICKET)(on_from_ticket)
