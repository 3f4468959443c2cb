"""Use a saved reply in Teams: the ticket card's button opens a dialog (a task module, seen only by the
person who clicked) with the three closest saved replies filled in; Send posts the chosen (edited)
text in the ticket's thread as Pitchin's message naming the person, and that message is their reply
through handlers.use_saved (the normal reply path). The Undo note goes in the thread, as for any reply."""

from __future__ import annotations

from botbuilder.core import TurnContext

from bot.teams import render
from bot.teams.chat import TeamsChat
from bot.teams.inbound import People, invoke_data
from handlers import outbound, use_saved
from handlers.base import Card, Reply
from handlers.cards import USE_SAVED_REPLY
from handlers.context import Context

FORM = "use_saved"  # the dialog's own submit data: {"form": "use_saved", "ticket_id": 7, "replies": [ids]}
TITLE = "Use a saved reply"


def _number(value) -> int | None:
    text = str(value if value is not None else "").strip().lstrip("#")
    return int(text) if text.isdigit() else None


def offer_card(ticket_id: int, title: str, options: list[tuple[int, str, str]], error: str = "",
               chosen: str = "0") -> dict:
    """The dialog: which saved reply (the closest first) and each one's text, editable; only the
    chosen one's text is sent. ``options``: (saved reply id, name, text)."""
    body: list[dict] = []
    if error:
        body.append(render._words(error, color="Attention", weight="Bolder"))
    body.append(render._words(f"The saved replies closest to the customer's message on {title}. Send posts your "
                              "reply in the ticket's thread; it reaches the customer after the undo window.",
                              isSubtle=True, size="Small"))
    body.append(render._input("Input.ChoiceSet", "choice", "Send which?", chosen, style="expanded",
                              choices=[{"title": f"{n + 1}. {name}", "value": str(n)}
                                       for n, (_, name, _) in enumerate(options)]))
    body += [render._input("Input.Text", f"text_{n}", f"{n + 1}. {name}", text, isMultiline=True)
             for n, (_, name, text) in enumerate(options)]
    data = {"form": FORM, "ticket_id": ticket_id, "title": title,
            "replies": [reply_id for reply_id, _, _ in options], "names": [name for _, name, _ in options]}
    return render._card(body, [{"type": "Action.Submit", "title": "Send", "style": "positive", "data": data}],
                        render.Drawn())


def _refusal(text: str):
    return render.dialog(render.dialog_card(Reply(text, ok=False)), title=TITLE, height="small")


class TeamsUseSaved:
    def __init__(self, ctx: Context, chat: TeamsChat, people: People):
        self.ctx, self.chat, self.people = ctx, chat, people

    def fetch_or(self, other):
        """task/fetch: this button's dialog, anything else ``other``'s (the feedback form)."""
        async def fetch(turn_context: TurnContext):
            if invoke_data(turn_context.activity).get("action") != USE_SAVED_REPLY:
                return await other(turn_context)
            return render.task_response(await self._offer(turn_context))
        return fetch

    def submit_or(self, other):
        """task/submit: this dialog's Send, anything else ``other``'s."""
        async def submit(turn_context: TurnContext):
            if invoke_data(turn_context.activity).get("form") != FORM:
                return await other(turn_context)
            return render.task_response(await self._send(turn_context))
        return submit

    async def _offer(self, turn_context: TurnContext):
        ticket_id = _number(invoke_data(turn_context.activity).get("ticket_id"))
        if ticket_id is None:
            return _refusal("This button names no ticket. Is this an old message?")
        actor = await self.people.actor(turn_context)
        offer = await self.ctx.run(use_saved.offer, self.ctx, actor, ticket_id)
        if isinstance(offer, Reply):
            return _refusal(offer.text)
        options = [(o.saved_reply_id, o.name, o.text) for o in offer.options]
        return render.dialog(offer_card(offer.ticket_id, offer.title, options), title=TITLE)

    async def _send(self, turn_context: TurnContext):
        data = invoke_data(turn_context.activity)
        ticket_id, replies, names = _number(data.get("ticket_id")), data.get("replies"), data.get("names")
        n = _number(data.get("choice"))
        if ticket_id is None or not isinstance(replies, list) or not isinstance(names, list) or n is None \
                or n >= len(replies) or len(names) != len(replies):
            return _refusal("Pitchin cannot read this dialog. Open it again from the ticket's card.")
        text = data.get(f"text_{n}") if isinstance(data.get(f"text_{n}"), str) else ""
        actor = await self.people.actor(turn_context)
        ready = await self.ctx.run(use_saved.prepare, self.ctx, actor, ticket_id, int(replies[n]), text,
                                   render.PLATFORM)
        if isinstance(ready, Reply) or ready.thread is None:  # nothing posted: the same dialog, as typed
            error = ready.text if isinstance(ready, Reply) else f"#{ticket_id} has no thread in Teams to answer in."
            typed = [(int(reply_id), str(name), data.get(f"text_{i}") or "")
                     for i, (reply_id, name) in enumerate(zip(replies, names))]
            return render.dialog(offer_card(ticket_id, str(data.get("title") or f"#{ticket_id}"), typed, error, str(n)),
                                 title=TITLE)
        source = await self.chat.post_in_thread(ready.thread, ready.line)
        reply = await self.ctx.run(use_saved.send, self.ctx, actor, ticket_id, int(replies[n]), text, source)
        if reply is None:
            return None
        if reply.delivery_of is not None:  # the Undo note in the thread, as after a reply typed there
            note = await self.chat.post_in_thread(ready.thread, "", Card(title=reply.text, actions=reply.actions))
            if note.message_id:
                await self.ctx.run(outbound.keep_receipt, self.ctx, reply.delivery_of, note)
        return render.dialog(render.dialog_card(Reply(reply.text, ok=reply.ok)), title=TITLE, height="small")

