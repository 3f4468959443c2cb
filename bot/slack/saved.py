"""Saved replies on Slack: `/pitchin saved add|edit <name>` opens the form (a modal), its submission
saves, and the "Save as reply" message shortcut opens it filled in with an answer sent to a customer.

Every path ends in handlers.saved_command / saved_replies / saved_from_message; the rest of
`/pitchin saved …` (list, show, remove, a reply typed on the line) is the registry's, as any command.
"""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncApp

from bot.slack import answer, render
from bot.slack.chat import PLATFORM, TENANT
from bot.slack.inbound import People, action_user
from handlers import saved_command, saved_from_message, saved_replies
from handlers.base import Actor, MessageRef, Reply
from handlers.context import Context
from handlers.saved_replies import Form

PREFIX = "/pitchin "
SHORTCUT = "save_reply"  # manifest.yml: features.shortcuts, type message
FORM = "saved.form"  # the modal's callback_id
NAME, TEXT, WHO = "saved_name", "saved_text", "saved_who"  # its inputs: block_id = action_id
TEAM, MINE = "team", "mine"  # the options of WHO


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "plain_text", "text": text[:2000], "emoji": True}]}


def form_view(form: Form) -> dict:
    """The modal: the name, the text, and for a new reply who may use it. Where it came from and the
    variables are told above and below (plain text: nothing in them is markup)."""
    name = {"type": "plain_text_input", "action_id": NAME, "max_length": saved_replies.NAME_LIMIT,
            "placeholder": _plain("Refund")}
    if form.name:
        name["initial_value"] = form.name[: saved_replies.NAME_LIMIT]
    text = {"type": "plain_text_input", "action_id": TEXT, "multiline": True, "max_length": render.INPUT_LIMIT,
            "placeholder": _plain("Hi {customer.first_name|there}, …")}
    if form.text:
        text["initial_value"] = form.text
    blocks: list[dict] = [_context(form.note)] if form.note else []
    blocks += [
        {"type": "input", "block_id": NAME, "label": _plain("Name"), "element": name,
         "hint": _plain("Short, to find it by: `saved list <words>` searches names and text.")},
        {"type": "input", "block_id": TEXT, "label": _plain("Reply"), "element": text},
    ]
    if form.reply_id is None:
        options = [{"text": _plain("The whole team"), "value": TEAM}, {"text": _plain("Only me"), "value": MINE}]
        blocks.append({"type": "input", "block_id": WHO, "label": _plain("Who can use it?"),
                       "element": {"type": "static_select", "action_id": WHO, "options": options,
                                   "initial_option": options[1 if form.mine else 0]}})
    blocks.append(_context(saved_replies.variables_help()))
    meta = {"reply_id": form.reply_id, "source_message_id": form.source_message_id}
    return {
        "type": "modal",
        "callback_id": FORM,
        "title": _plain("Change saved reply" if form.reply_id else "New saved reply"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(meta),
        "blocks": blocks,
    }


def form_from_view(view: dict) -> Form:
    """The submitted modal → a Form (Slack sends every input's state, prefilled ones too)."""
    values = (view.get("state") or {}).get("values") or {}

    def typed(field: str) -> str:
        return ((values.get(field) or {}).get(field) or {}).get("value") or ""

    who = (((values.get(WHO) or {}).get(WHO) or {}).get("selected_option") or {}).get("value")
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    number = lambda key: meta.get(key) if isinstance(meta.get(key), int) else None  # noqa: E731
    return Form(name=typed(NAME), text=typed(TEXT), mine=who == MINE, reply_id=number("reply_id"),
                source_message_id=number("source_message_id"))


def too_long(form: Form) -> Reply | None:
    """Slack's text inputs hold 3000 characters; a longer reply is not cut short by opening it there."""
    if len(form.text) <= render.INPUT_LIMIT:
        return None
    if form.reply_id is None:
        return Reply(f"This answer is longer than Slack's form holds ({render.INPUT_LIMIT} characters): save it with "
                     f"`{PREFIX}saved add <name> from #<ticket>` instead.", ok=False)
    return Reply(f"“{form.name}” is longer than Slack's form holds ({render.INPUT_LIMIT} characters), so it is not "
                 f"opened there: change it with `{PREFIX}saved edit {form.name} <the new text>`.", ok=False)


async def open_typed_form(ctx: Context, actor: Actor, text: str, trigger_id: str, client, respond) -> bool:
    """`/pitchin saved add|edit <name>` without text: the modal. False when it is a command to run as
    typed (the caller runs it through the registry)."""
    if [w.lower() for w in text.split(None, 1)[:1]] != ["saved"]:
        return False
    found = await ctx.run(saved_command.form_request, ctx, actor, text.strip()[len("saved"):], PREFIX)
    if found is None:
        return False
    if isinstance(found, Form):
        found = too_long(found) or found
    if isinstance(found, Reply):
        await answer.tell(respond, found)
    else:
        await client.views_open(trigger_id=trigger_id, view=form_view(found))
    return True


def register(app: AsyncApp, ctx: Context, people: People) -> None:
    """The modal's submission and the "Save as reply" shortcut. (Undo after `saved remove` is
    registry.ACTIONS' and goes through listeners.on_button like every button.)"""

    async def on_submit(ack, body, view):
        user_id, name = action_user(body)
        actor = await people.actor(user_id, name)
        # one short write, well inside Slack's 3 s: a wrong field is then shown under that field
        reply, problems = await ctx.run(saved_replies.submit, ctx, actor, form_from_view(view), PREFIX)
        if problems:
            fields = {"name": NAME, "text": TEXT}
            await ack(response_action="errors", errors={fields[k]: v for k, v in problems.items()})
            return
        await ack(response_action="update", view=render.reply_view(reply, title="Saved reply"))

    app.view_submission(FORM)(on_submit)

    async def on_shortcut(ack, shortcut, client):
        """"Save as reply" on a message: when it was an answer that went to a customer, the form
        filled in with it; on any other message, why not."""
        await ack()
        message = shortcut.get("message") or {}
        channel = (shortcut.get("channel") or {}).get("id") or ""
        user_id, name = action_user(shortcut)
        actor = await people.actor(user_id, name)
        source = MessageRef(PLATFORM, TENANT, channel, message.get("ts") or "", message.get("thread_ts"))
        found = await ctx.run(saved_from_message.form_for_message, ctx, actor, source, PREFIX)
        if isinstance(found, Form):
            found = too_long(found) or found
        view = render.reply_view(found, title="Save as reply") if isinstance(found, Reply) else form_view(found)
        await client.views_open(trigger_id=shortcut["trigger_id"], view=view)

    app.shortcut({"type": "message_action", "callback_id": SHORTCUT})(on_shortcut)
