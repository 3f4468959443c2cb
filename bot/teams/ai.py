"""AI drafts and summaries in Teams. Teams has no private replies in a channel, so a draft is never
shown there: it goes to the person's personal chat with Pitchin, as a card with the text in a box to
change and Send / Discard. Send posts the reply in the ticket's thread as Pitchin's message on the
person's behalf and makes it their reply through handlers.ai_drafts.send_draft (→ tickets.answer);
a changed text is recorded as "edited". Everything Pitchin says about a draft goes to that personal
chat too; the summary itself goes into the ticket's thread through the outbox.
"""

from __future__ import annotations

from botbuilder.core import TurnContext

from bot.teams import render
from bot.teams.chat import TeamsChat
from bot.teams.inbound import PLATFORM, People, in_channel, tenant_of
from handlers import ai_drafts
from handlers.base import Actor, Reply
from handlers.context import Context

TEXT_INPUT = "reply_text"  # the draft card's text box: its value comes back with Send


def draft_card(reply: Reply, draft_id: int, text: str) -> dict:
    """The draft as its requester sees it: the marked words, the text to change, Send and Discard."""
    heading = reply.text.replace(f"\n\n{text}\n\n", "\n\n", 1)  # the text itself is in the box below
    body = [render._words(heading),
            render._input("Input.Text", TEXT_INPUT, "Your reply (change it before sending if you like)", text,
                          isMultiline=True, isRequired=True, errorMessage="Write the reply, or discard the draft.")]
    actions = [
        {"type": "Action.Submit", "title": "Send", "style": "positive",
         "data": {"action": ai_drafts.SEND, "ai_id": draft_id}},
        {"type": "Action.Submit", "title": "Discard", "style": "destructive",
         "data": {"action": ai_drafts.DISCARD, "ai_id": draft_id}},
    ]
    return render._card(body, actions, render.Drawn())


def _draft_of(reply: Reply) -> int | None:
    send = next((b for b in reply.actions if b.action_id == ai_drafts.SEND), None)
    return int(send.value) if send is not None and send.value.isdigit() else None


class TeamsDrafts:
    def __init__(self, ctx: Context, chat: TeamsChat, people: People):
        self.ctx = ctx
        self.chat = chat
        self.people = people

    async def _db(self, fn, *args):
        return await self.ctx.run(fn, self.ctx, *args)

    async def privately(self, turn_context: TurnContext, actor: Actor, reply: Reply) -> None:
        """``reply`` (a draft: its card) in the person's personal chat with Pitchin: where they act
        already, or one Pitchin opens."""
        draft_id = _draft_of(reply)
        if draft_id is not None:
            text = await self._db(ai_drafts.draft_text, actor, draft_id)
            content = draft_card(reply, draft_id, text) if isinstance(text, str) else render.reply_card(text)
        else:
            content = render.reply_card(reply)
        activity = render.card_activity(content, reply.text)
        if not in_channel(turn_context.activity) and \
                (turn_context.activity.conversation.conversation_type or "personal") == "personal":
            await turn_context.send_activity(activity)
        else:
            await self.chat.direct_activity(tenant_of(turn_context.activity), actor.user_id, activity,
                                            "showing an AI draft")

    async def command(self, turn_context: TurnContext, actor: Actor, words: str) -> Reply | None:
        """`@Pitchin draft <ticket>`: the draft goes to the person's personal chat; the channel hears
        only where it went."""
        reply = await self._db(ai_drafts_command, actor, words)
        await self.privately(turn_context, actor, reply)
        if not in_channel(turn_context.activity):
            return None
        if _draft_of(reply) is not None:
            return Reply("I sent you the draft in your personal chat with Pitchin: only you can see it.")
        return Reply("There is no draft: I told you why in your personal chat with Pitchin.", ok=False)

    async def click(self, turn_context: TurnContext, actor: Actor, action_id: str, value: str) -> None:
        number = int(value) if value.isdigit() else None
        if number is None:
            reply = Reply("That button carries no number. Is this an old message?", ok=False)
        elif action_id == ai_drafts.DRAFT:
            reply = await self._db(ai_drafts.draft_reply, actor, number)
        elif action_id == ai_drafts.SUMMARISE:
            reply = await self._db(ai_drafts.summarise, actor, number)
        elif action_id == ai_drafts.SEND:
            typed = (turn_context.activity.value or {}).get(TEXT_INPUT)
            reply = await self.send(actor, number, typed if isinstance(typed, str) else None)
        elif action_id == ai_drafts.DISCARD:
            reply = await self._db(ai_drafts.discard_draft, actor, number)
        else:
            reply = Reply(f"Pitchin does not know the button “{action_id}”. Is this an old message?", ok=False)
        await self.privately(turn_context, actor, reply)

    async def send(self, actor: Actor, draft_id: int, text: str | None) -> Reply:
        plan = await self._db(ai_drafts.prepare_send, actor, draft_id, PLATFORM, text)
        if isinstance(plan, Reply):
            return plan
        source = await self.chat.post_in_thread(plan.thread, plan.thread_text)
        return await self._db(ai_drafts.send_draft, actor, plan, source)


def ai_drafts_command(ctx: Context, actor: Actor, words: str) -> Reply:
    from handlers import registry

    return registry.run_command(ctx, actor, f"draft {words}".strip(), "@Pitchin ")


ai_drafts_command.may_embed = True
