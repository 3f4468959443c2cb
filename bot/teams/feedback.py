"""Feedback in Teams: `@Pitchin feedback …`, the form in a dialog (a task module) opened from a
ticket card's "Log feedback" button or from the "Log as feedback" message action, and the export.

Every path ends in the core calls Slack's /feedback makes: registry.run_feedback, feedback.log,
registry.run_action. Teams has no private replies in a channel; a dialog is seen only by the person
who opened it, so the form's answers (the similar cards to choose from, "New card #4") stay there.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import replace

import aiohttp
from botbuilder.core import TurnContext

from bot.teams import render
from bot.teams.inbound import (People, button_click, in_channel, invoke_data, message_payload, payload_text,
                               payload_thread, thread_of)
from handlers import feedback, registry, tickets
from handlers.base import Actor, Button, Reply
from handlers.context import Context
from handlers.customers import split_customers
from handlers.feedback import Draft

log = logging.getLogger("pitchin.teams")

MESSAGE_ACTION = "logFeedback"  # the "Log as feedback" command's id in appPackage/manifest.json
EXPORT_CONTEXT = {"export": "feedback"}  # carried by the file consent card, handed back on accept
QUOTE_LIMIT = 2000  # a long email is quoted by its start; the ticket keeps the whole of it
PREFIX = "@Pitchin "
COMMAND = f"{PREFIX}feedback"  # how the core's usage lines spell the command here


def _number(value) -> int | None:
    text = str(value if value is not None else "").strip().lstrip("#")
    return int(text) if text.isdigit() else None


def _words(data: dict, key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _rows(content: str) -> int:
    return max(sum(1 for _ in csv.reader(io.StringIO(content))) - 1, 0)


def _refusal(text: str) -> render.TaskModuleContinueResponse:
    return render.dialog(render.dialog_card(Reply(text, ok=False)), height="small")


class TeamsFeedback:
    def __init__(self, ctx: Context, people: People):
        self.ctx = ctx
        self.people = people

    async def _db(self, fn, *args):
        return await self.ctx.run(fn, self.ctx, *args)

    # ------------------------------------------------------------ typed: @Pitchin feedback …

    async def command(self, turn_context: TurnContext, actor: Actor, text: str) -> Reply | None:
        """`@Pitchin feedback <text | merge … | status … | show … | top | search … | export | help>`;
        alone, a button that opens the form. In a ticket's replies the feedback is about that ticket.
        None when the answer has been sent already (the export)."""
        thread = thread_of(turn_context.activity)
        ticket_id = await self._db(tickets.ticket_in_thread, thread) if thread is not None else None
        if not text.strip():
            return self.form_button(ticket_id)
        reply = await self._db(registry.run_feedback, actor, text, ticket_id, COMMAND)
        if reply.file is not None:
            await self.hand_over(turn_context, reply)
            return None
        return reply

    @staticmethod
    def form_button(ticket_id: int | None) -> Reply:
        about = f" about ticket #{ticket_id}" if ticket_id else ""
        return Reply(f"Log what a customer asked for{about} in the form, or in one line: "
                     f"{PREFIX}feedback <what they want>. {PREFIX}feedback help lists the rest.",
                     actions=(Button("Open the feedback form", render.OPEN_FEEDBACK_FORM, str(ticket_id or "")),))

    # ------------------------------------------------------------ the dialog: task/fetch, task/submit

    async def fetch(self, turn_context: TurnContext) -> dict | None:
        """task/fetch: a card button that opens the form (the ticket card's "Log feedback")."""
        data = invoke_data(turn_context.activity)
        if data.get("action") not in render.DIALOG_BUTTONS:
            return render.task_response(_refusal(f"Pitchin does not know the button “{data.get('action')}”. "
                                                 "Is this an old message?"))
        return render.task_response(render.dialog(render.feedback_form(await self._start(data.get("ticket_id")))))

    async def submit(self, turn_context: TurnContext) -> dict | None:
        """task/submit: the form, or a button in the dialog (Add to #3, Create new, Done)."""
        return render.task_response(await self._submitted(turn_context))

    async def _start(self, ticket_id, quote: str = "") -> Draft:
        """An empty form, or one about a ticket with its customer filled in."""
        number = _number(ticket_id)
        draft = (await self._db(feedback.draft_for_ticket, number) if number else None) or Draft(text="")
        if len(quote) > QUOTE_LIMIT:
            quote = quote[: QUOTE_LIMIT - 1].rstrip() + "…"
        return replace(draft, quote=quote) if quote else draft

    async def _draft(self, data: dict) -> Draft:
        ticket_id = _number(data.get("ticket_id"))
        if ticket_id is not None and await self._db(feedback.draft_for_ticket, ticket_id) is None:
            ticket_id = None  # not a ticket (any more): log it without one rather than fail
        return Draft(text=_words(data, "text"), customers=split_customers(_words(data, "customers")),
                     department=_words(data, "department"), importance=_words(data, "importance").lower(),
                     quote=_words(data, "quote"), ticket_id=ticket_id)

    async def _submitted(self, turn_context: TurnContext) -> render.TaskModuleContinueResponse | None:
        data = invoke_data(turn_context.activity)
        if data.get("form") == render.CLOSE:
            return None
        clicked = button_click(data)
        if clicked is not None:
            if clicked[0] not in registry.TEXT_ACTIONS:
                return _refusal(f"Pitchin does not know the button “{clicked[0]}” here.")
            actor = await self.people.actor(turn_context)
            reply = await self._db(registry.run_action, actor, *clicked)
            return render.dialog(render.dialog_card(reply), height="small")
        if data.get("form") != render.FORM:
            return _refusal("Pitchin does not know this form. Open it again from the card or the message.")
        draft = await self._draft(data)
        problems = draft.problems()
        if problems:  # the same form again, as typed, with what is missing
            return render.dialog(render.feedback_form(draft, " ".join(problems)))
        actor = await self.people.actor(turn_context)
        reply = await self._db(feedback.log, actor, draft, COMMAND)
        return render.dialog(render.dialog_card(reply), height="medium" if reply.actions else "small")

    # ------------------------------------------------------------ the message action "Log as feedback"

    async def fetch_on_message(self, turn_context: TurnContext) -> dict | None:
        """composeExtension/fetchTask: the form, quoting the message; in a ticket's replies, about that
        ticket (its customer filled in, the request linked to it)."""
        activity = turn_context.activity
        if (activity.value or {}).get("commandId") != MESSAGE_ACTION:
            return render.action_response(_refusal("Pitchin does not know this command. Is the app up to date?"))
        payload = message_payload(activity)
        thread = payload_thread(activity, payload)
        ticket_id = await self._db(tickets.ticket_in_thread, thread) if thread is not None else None
        draft = await self._start(ticket_id, quote=payload_text(payload))
        return render.action_response(render.dialog(render.feedback_form(draft)))

    async def submit_on_message(self, turn_context: TurnContext) -> dict | None:
        """composeExtension/submitAction: the form opened from a message, or a button in its dialog."""
        if (turn_context.activity.value or {}).get("commandId") != MESSAGE_ACTION:
            return render.action_response(_refusal("Pitchin does not know this command. Is the app up to date?"))
        return render.action_response(await self._submitted(turn_context))

    # ------------------------------------------------------------ export

    async def hand_over(self, turn_context: TurnContext, reply: Reply) -> None:
        """The CSV. A bot can hand over a file only in a personal chat (Teams asks the person to let it
        into their OneDrive); in a channel the rows are posted as plain text to paste into a sheet."""
        name, content = reply.file
        rows = _rows(content)
        activity = turn_context.activity
        personal = not in_channel(activity) and (activity.conversation.conversation_type or "personal") == "personal"
        if personal:
            size = len(content.encode("utf-8-sig"))
            await turn_context.send_activity(render.file_consent_activity(
                name, size, f"All feedback, one row per request ({rows})", EXPORT_CONTEXT))
            return
        intro = (f"{reply.text} {rows} row{'s' if rows != 1 else ''} of {name}, to paste into a spreadsheet. "
                 f"For the file itself, say “feedback export” to me in a personal chat: Teams lets a bot hand over "
                 f"files only there.")
        await turn_context.send_activity(render.csv_activity(intro, content))

    async def file_consent(self, turn_context: TurnContext) -> None:
        """fileConsent/invoke: the person allowed (or declined) the upload of the export."""
        value = turn_context.activity.value if isinstance(turn_context.activity.value, dict) else {}
        if value.get("context") != EXPORT_CONTEXT:
            return
        if value.get("action") != "accept":
            await turn_context.send_activity("OK, no file.")
            return
        upload = value.get("uploadInfo") or {}
        body = (await self.ctx.run(feedback.export_csv, self.ctx)).encode("utf-8-sig")  # Excel reads the BOM
        headers = {"Content-Length": str(len(body)), "Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}"}
        try:
            # one upload per export, rare: a session of its own rather than one kept for the process
            async with aiohttp.ClientSession() as http:
                async with http.put(upload.get("uploadUrl", ""), data=body, headers=headers) as response:
                    if response.status >= 300:
                        raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
        except (aiohttp.ClientError, ValueError) as exc:
            log.warning("could not upload the feedback export to OneDrive: %s", exc)
            await turn_context.send_activity(f"Teams did not take the file ({type(exc).__name__}). "
                                             "Say “feedback export” to try again.")
            return
        await turn_context.send_activity(render.file_info_activity(upload))
