"""Saved replies in Teams: `@Pitchin saved …`, the form in a dialog (a task module), and the "Save as
reply" message action on an answer sent to a customer.

A typed message cannot open a dialog in Teams, so `@Pitchin saved add <name>` (or `saved edit
<name>`) answers with a button that does; everything else (list, show, remove with its Undo, a
reply typed on the line, `saved add <name> from #3`) is the registry's, as on Slack and the console.
Every path ends in handlers.saved_command / saved_replies / saved_from_message.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Awaitable, Callable

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.teams import render
from bot.teams.inbound import PLATFORM, People, invoke_data, message_payload, split_conversation, tenant_of
from handlers import registry, saved_command, saved_from_message, saved_replies
from handlers.base import Actor, MessageRef, Reply
from handlers.context import Context
from handlers.saved_replies import Form

PREFIX = "@Pitchin "
MESSAGE_ACTION = "saveReply"  # the "Save as reply" command's id in appPackage/manifest.json
OPEN_FORM = "saved.open"  # the button under `@Pitchin saved add <name>`: its data is the Form to open
FORM = "saved"  # the dialog's own submit data: {"form": "saved", "reply_id": …, "source_message_id": …} + its inputs
TITLE = "Saved reply"
TEAM, MINE = "team", "mine"


def _verbatim(text: str, **style) -> dict:
    """Words shown exactly as written (a reply's text may hold anything): a RichTextBlock's TextRun."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text}], **style}


def form_card(form: Form, error: str = "") -> dict:
    """The dialog's form: the name, the text, and for a new reply who may use it."""
    body: list[dict] = []
    if error:
        body.append(_verbatim(error, color="Attention", weight="Bolder"))
    if form.note:
        body.append(_verbatim(form.note, isSubtle=True))
    body += [
        {"type": "Input.Text", "id": "name", "label": "Name", "value": form.name, "isRequired": True,
         "maxLength": saved_replies.NAME_LIMIT, "errorMessage": "Give the reply a short name.",
         "placeholder": "e.g. Refund"},
        {"type": "Input.Text", "id": "text", "label": "Reply", "value": form.text, "isMultiline": True,
         "isRequired": True, "maxLength": saved_replies.TEXT_LIMIT, "errorMessage": "Write the reply's text.",
         "placeholder": "Hi {customer.first_name|there}, …"},
    ]
    if form.reply_id is None:
        body.append({"type": "Input.ChoiceSet", "id": "who", "label": "Who can use it?", "style": "compact",
                     "value": MINE if form.mine else TEAM,
                     "choices": [{"title": "The whole team", "value": TEAM}, {"title": "Only me", "value": MINE}]})
    body.append(_verbatim(saved_replies.variables_help(), isSubtle=True, spacing="Medium"))
    data = {"form": FORM, "reply_id": form.reply_id, "source_message_id": form.source_message_id, "mine": form.mine}
    return {"type": "AdaptiveCard", "$schema": render.SCHEMA, "version": render.VERSION, "body": body,
            "actions": [{"type": "Action.Submit", "title": "Save", "style": "positive", "data": data}]}


def form_from(data: dict) -> Form:
    """The dialog's submit data (its own fields and what was typed) → a Form."""

    def number(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def words(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else ""

    mine = words("who") == MINE if "who" in data else data.get("mine") is True
    return Form(name=words("name"), text=words("text"), mine=mine, reply_id=number("reply_id"),
                source_message_id=number("source_message_id"), note=words("note"))


def _said(reply: Reply) -> render.TaskModuleContinueResponse:
    return render.dialog(render.dialog_card(reply), title=TITLE, height="small")


class TeamsSaved:
    def __init__(self, ctx: Context, people: People):
        self.ctx = ctx
        self.people = people

    async def _db(self, fn, *args):
        return await self.ctx.run(fn, self.ctx, *args)

    def invoke_for(self, activity: Activity) -> Callable[[TurnContext], Awaitable[object]] | None:
        """This module's handler for an invoke (its dialog, its message action), or None: not ours."""
        value = activity.value if isinstance(activity.value, dict) else {}
        if activity.name == "composeExtension/fetchTask" and value.get("commandId") == MESSAGE_ACTION:
            return self.fetch_on_message
        if activity.name == "composeExtension/submitAction" and value.get("commandId") == MESSAGE_ACTION:
            return self.submit_on_message
        data = invoke_data(activity)
        if activity.name == "task/fetch" and data.get("action") == OPEN_FORM:
            return self.fetch
        if activity.name == "task/submit" and data.get("form") == FORM:
            return self.submit
        return None

    # ------------------------------------------------------------ typed: @Pitchin saved …

    async def command(self, turn_context: TurnContext, actor: Actor, text: str) -> Reply | None:
        """`@Pitchin saved …`. With a form to fill in, a button that opens it (None: answered here)."""
        found = await self._db(saved_command.form_request, actor, text, PREFIX)
        if isinstance(found, Reply):
            return found
        if found is None:
            return await self._db(registry.run_command, actor, f"saved {text}", PREFIX)
        what = f"Change “{found.name}”" if found.reply_id else f"Write the reply “{found.name}”"
        card = render.reply_card(Reply(f"{what} in the form."), to=(actor.user_id, actor.name or "you"))
        card["actions"] = [{"type": "Action.Submit", "title": "Open the form",
                            "data": {"msteams": {"type": "task/fetch"}, "action": OPEN_FORM, **asdict(found)}}]
        await turn_context.send_activity(render.card_activity(card, f"{what} in the form."))
        return None

    # ------------------------------------------------------------ the dialog: task/fetch, task/submit

    async def fetch(self, turn_context: TurnContext) -> dict | None:
        form = form_from(invoke_data(turn_context.activity))
        return render.task_response(render.dialog(form_card(form), title=TITLE))

    async def submit(self, turn_context: TurnContext) -> dict | None:
        return render.task_response(await self._submitted(turn_context))

    async def _submitted(self, turn_context: TurnContext) -> render.TaskModuleContinueResponse:
        data = invoke_data(turn_context.activity)
        form = form_from(data)
        actor = await self.people.actor(turn_context)
        reply, problems = await self._db(saved_replies.submit, actor, form, PREFIX)
        if problems:  # the same form again, as typed, with what is wrong
            return render.dialog(form_card(form, " ".join(problems.values())), title=TITLE)
        return _said(reply)

    # ------------------------------------------------------------ the message action "Save as reply"

    async def fetch_on_message(self, turn_context: TurnContext) -> dict | None:
        """composeExtension/fetchTask: the form filled in with the answer, when the message was one
        that went to a customer; else why not."""
        activity = turn_context.activity
        payload = message_payload(activity)
        channel, root = split_conversation(activity.conversation.id)
        source = MessageRef(PLATFORM, tenant_of(activity), channel, str(payload.get("id") or ""), root)
        actor = await self.people.actor(turn_context)
        found = await self._db(saved_from_message.form_for_message, actor, source, PREFIX)
        if isinstance(found, Reply):
            return render.action_response(_said(found))
        return render.action_response(render.dialog(form_card(found), title=TITLE))

    async def submit_on_message(self, turn_context: TurnContext) -> dict | None:
        """composeExtension/submitAction: the form opened from a message."""
        return render.action_response(await self._submitted(turn_context))
