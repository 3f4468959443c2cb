"""AI drafts and summaries on Slack (registered only when Pitchin has a drafter: OPENAI_API_KEY).

- "Draft a reply" on a ticket card: the draft is an ephemeral message in the ticket's thread, seen
  only by the person who clicked (chat.postEphemeral), with Send / Edit / Discard;
- Send: Pitchin posts the text in the ticket's thread as its own message on the person's behalf,
  and that message is their reply (handlers.ai_drafts.send_draft → handlers.tickets.answer);
- Edit: a modal with the text (views.open with the click's trigger), sent the same way on submit;
- Discard, and "Summarise" (the summary goes into the thread through the outbox).
"""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from bot.slack import answer, render
from bot.slack.chat import PLATFORM, TENANT
from bot.slack.inbound import People, action_user
from handlers import ai_drafts
from handlers.base import Actor, MessageRef, Reply
from handlers.context import Context

EDIT_FORM = "ai.edit_form"
EDIT_FIELD = "reply_text"


def edit_form(draft_id: int, text: str) -> dict:
    """The modal to change a draft before it goes; the draft's id travels in private_metadata."""
    return {
        "type": "modal",
        "callback_id": EDIT_FORM,
        "title": render._plain("Edit the AI draft"),
        "submit": render._plain("Send"),
        "close": render._plain("Cancel"),
        "private_metadata": json.dumps({"draft_id": draft_id}),
        "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": render.escape(
                f"🤖 {ai_drafts.DRAFT_MARK}. It goes to the customer as your reply, after the undo window.")}]},
            render._text_input(EDIT_FIELD, "Your reply", multiline=True, initial=text),
        ],
    }


def _number(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def register(app: AsyncApp, ctx: Context, people: People) -> None:
    """Without a key the buttons are not on the cards; a click on an older card's is told AI is off."""

    async def privately(client, body: dict, user_id: str, reply: Reply) -> None:
        """An ephemeral message to the person who clicked, in the thread of the message clicked."""
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        await client.chat_postEphemeral(channel=channel, user=user_id,
                                        thread_ts=message.get("thread_ts") or message.get("ts"),
                                        text=render.reply_text(reply), blocks=render.reply_blocks(reply))

    def on_ticket_button(verb):
        """Draft a reply, Summarise: the verb waits for OpenAI off the event loop (its ``may_embed``),
        and its answer goes to the clicker alone."""

        async def listener(ack, body, action, client):
            await ack()
            user_id, name = action_user(body)
            actor = await people.actor(user_id, name)
            ticket_id = _number(action.get("value"))
            if ticket_id is None:
                reply = Reply("That button carries no ticket number. Is this an old message?", ok=False)
            else:
                reply = await ctx.run(verb, ctx, actor, ticket_id)
            await privately(client, body, user_id, reply)

        return listener

    app.action(ai_drafts.DRAFT)(on_ticket_button(ai_drafts.draft_reply))
    app.action(ai_drafts.SUMMARISE)(on_ticket_button(ai_drafts.summarise))

    async def send(client, actor: Actor, draft_id: int, text: str | None) -> Reply:
        """Post the reply in the ticket's thread as Pitchin on the person's behalf, then make it their
        reply through the one reply path."""
        plan = await ctx.run(ai_drafts.prepare_send, ctx, actor, draft_id, PLATFORM, text)
        if isinstance(plan, Reply):
            return plan
        posted = await client.chat_postMessage(channel=plan.thread.channel, thread_ts=plan.thread.thread_id,
                                               text=render.message_text(plan.thread_text),
                                               unfurl_links=False, unfurl_media=False)
        source = MessageRef(PLATFORM, TENANT, posted["channel"], posted["ts"], plan.thread.thread_id)
        return await ctx.run(ai_drafts.send_draft, ctx, actor, plan, source)

    async def on_send(ack, body, action, respond, client):
        await ack()
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        draft_id = _number(action.get("value"))
        reply = await send(client, actor, draft_id, None) if draft_id is not None else \
            Reply("That button carries no draft. Is this an old message?", ok=False)
        await answer.tell(respond, reply)

    app.action(ai_drafts.SEND)(on_send)

    async def on_edit(ack, body, action, respond, client):
        await ack()
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        draft_id = _number(action.get("value"))
        text = await ctx.run(ai_drafts.draft_text, ctx, actor, draft_id) if draft_id is not None else \
            Reply("That button carries no draft. Is this an old message?", ok=False)
        if isinstance(text, Reply):
            await answer.tell(respond, text)
            return
        await client.views_open(trigger_id=body["trigger_id"], view=edit_form(draft_id, text))

    app.action(ai_drafts.EDIT)(on_edit)

    async def on_edit_submit(ack, body, view, client):
        values = (view.get("state") or {}).get("values") or {}
        text = ((values.get(EDIT_FIELD) or {}).get(EDIT_FIELD) or {}).get("value") or ""
        if not text.strip():
            await ack(response_action="errors", errors={EDIT_FIELD: "Write the reply, or close this and discard the draft."})
            return
        await ack(response_action="update", view=render.reply_view(Reply("Sending your reply…"), "AI draft"))
        try:
            draft_id = json.loads(view.get("private_metadata") or "{}").get("draft_id")
        except ValueError:
            draft_id = None
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        reply = await send(client, actor, draft_id, text) if isinstance(draft_id, int) else \
            Reply("Pitchin does not know this form's draft. Ask for a new draft.", ok=False)
        await answer.in_view(client, view["id"], reply, actor.user_id)

    app.view_submission(EDIT_FORM)(on_edit_submit)

    async def on_discard(ack, body, action, respond):
        await ack()
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        draft_id = _number(action.get("value"))
        reply = await ctx.run(ai_drafts.discard_draft, ctx, actor, draft_id) if draft_id is not None else \
            Reply("That button carries no draft. Is this an old message?", ok=False)
        await answer.tell(respond, reply)

    app.action(ai_drafts.DISCARD)(on_discard)
