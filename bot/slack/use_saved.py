"""Use a saved reply on Slack: the ticket card's button and the "Use a saved reply" message shortcut
in a ticket's thread open a modal for the clicking person only, with the three closest saved replies
filled in; Send posts the chosen (edited) text in the ticket's thread as Pitchin's message naming the
person, and that message is their reply through handlers.use_saved (the normal reply path)."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from bot.slack import answer, render
from bot.slack.chat import PLATFORM, TENANT, SlackChat
from bot.slack.inbound import People, action_user
from handlers import tickets, use_saved
from handlers.base import Reply, ThreadRef
from handlers.cards import USE_SAVED_REPLY
from handlers.context import Context

VIEW = "use_saved_reply"  # the modal's callback_id
SHORTCUT = "use_saved_reply"  # manifest.yml: features.shortcuts, type message
CHOICE = "choice"
TEXT = "text_{}"  # block id of option n's text box


def offer_view(offer: use_saved.Offer) -> dict:
    """The modal: which saved reply (a menu, the closest first) and each one's text, filled in
    and editable; only the chosen one's text is sent."""
    options = [{"text": render._plain(render._clip_plain(f"{n + 1}. {option.name}", 75)), "value": str(n)}
               for n, option in enumerate(offer.options)]
    blocks: list[dict] = [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": render._clip(render.escape(
            f"The saved replies closest to the customer's message on {offer.title}. Only you see this; "
            "Send posts your reply in the ticket's thread and it reaches the customer after the undo window."),
            render.SECTION_LIMIT)}]},
        {"type": "input", "block_id": CHOICE, "label": render._plain("Send which?"),
         "element": {"type": "static_select", "action_id": CHOICE, "options": options, "initial_option": options[0]}},
    ]
    for n, option in enumerate(offer.options):
        hint = ("Fill in " + ", ".join(f"[[{p}]]" for p in option.placeholders)) if option.placeholders else None
        blocks.append(render._text_input(TEXT.format(n), render._clip_plain(f"{n + 1}. {option.name}", 150),
                                         multiline=True, optional=True, initial=option.text, hint=hint))
    metadata = {"ticket_id": offer.ticket_id, "replies": [option.saved_reply_id for option in offer.options],
                "names": [option.name for option in offer.options]}
    return {"type": "modal", "callback_id": VIEW, "title": render._plain("Use a saved reply"),
            "submit": render._plain("Send"), "close": render._plain("Cancel"),
            "private_metadata": json.dumps(metadata), "blocks": blocks}


def chosen(view: dict) -> tuple[int, int, str, str] | None:
    """(ticket id, saved reply id, the text to send, its box's block id) from the submitted modal."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
        values = (view.get("state") or {}).get("values") or {}
        n = int((((values.get(CHOICE) or {}).get(CHOICE) or {}).get("selected_option") or {}).get("value"))
        text = ((values.get(TEXT.format(n)) or {}).get(TEXT.format(n)) or {}).get("value") or ""
        return int(metadata["ticket_id"]), int(metadata["replies"][n]), text, TEXT.format(n)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def register(app: AsyncApp, ctx: Context, people: People) -> None:
    chat = SlackChat(app.client, "")  # posts in the ticket's own thread, whatever the support channel

    async def open_offer(client, body: dict, ticket_id: int, respond=None) -> None:
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        offer = await ctx.run(use_saved.offer, ctx, actor, ticket_id)
        if isinstance(offer, Reply):
            if respond is not None:
                await answer.tell(respond, offer)
            else:
                await answer.direct(client, user_id, offer)
            return
        await client.views_open(trigger_id=body["trigger_id"], view=offer_view(offer))

    async def on_click(ack, body, action, respond, client):
        await ack()
        value = str(action.get("value") or "")
        if not value.isdigit():
            await answer.tell(respond, Reply(f"That button carries “{value}”, which is not a ticket number.", ok=False))
            return
        await open_offer(client, body, int(value), respond)

    app.action(USE_SAVED_REPLY)(on_click)

    async def on_shortcut(ack, shortcut, client):
        """The message shortcut on any message of a ticket's thread (or the ticket's own message)."""
        await ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id")
        root = message.get("thread_ts") or message.get("ts")
        ticket_id = None
        if channel and root:
            ticket_id = await ctx.run(tickets.ticket_in_thread, ctx, ThreadRef(PLATFORM, TENANT, channel, root))
        if ticket_id is None:
            user_id, _ = action_user(shortcut)
            await answer.direct(client, user_id, Reply(
                "“Use a saved reply” works on the messages of a ticket's thread: that is the customer it answers.",
                ok=False))
            return
        await open_offer(client, shortcut, ticket_id)

    app.shortcut({"type": "message_action", "callback_id": SHORTCUT})(on_shortcut)

    async def on_submit(ack, body, view, client):
        picked = chosen(view)
        if picked is None:
            await ack(response_action="errors", errors={CHOICE: "Choose one of the saved replies."})
            return
        ticket_id, saved_reply_id, text, box = picked
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        ready = await ctx.run(use_saved.prepare, ctx, actor, ticket_id, saved_reply_id, text, PLATFORM)
        if isinstance(ready, Reply):  # nothing posted: the person mends it in the modal
            await ack(response_action="errors", errors={box: render._clip_plain(ready.text, 150)})
            return
        if ready.thread is None:
            await ack(response_action="errors", errors={box: f"#{ticket_id} has no thread on Slack to answer in."})
            return
        await ack()
        source = await chat.post_in_thread(ready.thread, ready.line)
        reply = await ctx.run(use_saved.send, ctx, actor, ticket_id, saved_reply_id, text, source)
        if reply is not None:
            await client.chat_postEphemeral(channel=ready.thread.channel, user=user_id,
                                            thread_ts=ready.thread.thread_id, text=render.reply_text(reply),
                                            blocks=render.reply_blocks(reply))

    app.view_submission(VIEW)(on_submit)
