"""AI drafts in the console: `send <draft>`, `edit <draft>` (asks for the new text), `discard <draft>`.

`draft <ticket>` and `summarise <ticket>` are registry commands; the draft they print is seen only by
the person at this terminal. Send prints the reply in the ticket's thread as Pitchin's message on the
person's behalf and makes it their reply through handlers.ai_drafts.send_draft (→ tickets.answer).
"""

from __future__ import annotations

from typing import Awaitable, Callable

from bot.console.chat import PLATFORM, ConsoleChat
from handlers import ai_drafts
from handlers.base import Actor, Reply
from handlers.context import Context

WORDS = {"send": ai_drafts.SEND, "edit": ai_drafts.EDIT, "discard": ai_drafts.DISCARD}
USAGE = "send|edit|discard <draft number>"


class ConsoleDrafts:
    def __init__(self, ctx: Context, chat: ConsoleChat, actor: Actor, ask: Callable[[str], Awaitable[str | None]]):
        self.ctx = ctx
        self.chat = chat
        self.actor = actor
        self.ask = ask

    async def run(self, word: str, text: str) -> Reply:
        if self.ctx.drafter is None:
            return Reply(ai_drafts.AI_OFF, ok=False)
        args = text.split()[1:]
        if len(args) != 1 or not args[0].lstrip("#").isdigit():
            return Reply(f"Give the draft's number (shown after the draft, as in `{word} 4`).\nUsage: {USAGE}", ok=False)
        draft_id = int(args[0].lstrip("#"))
        if word == "discard":
            return await self.ctx.run(ai_drafts.discard_draft, self.ctx, self.actor, draft_id)
        edited = None
        if word == "edit":
            current = await self.ctx.run(ai_drafts.draft_text, self.ctx, self.actor, draft_id)
            if isinstance(current, Reply):
                return current
            edited = await self.ask(f"The draft:\n{current}\nType your reply on one line (empty: keep the draft "
                                    "as it is, `cancel`: send nothing):")
            if edited is None or edited.strip().lower() == "cancel":
                return Reply("Nothing was sent; the draft is still yours to send or discard.")
            edited = edited.strip() or None
        plan = await self.ctx.run(ai_drafts.prepare_send, self.ctx, self.actor, draft_id, PLATFORM, edited)
        if isinstance(plan, Reply):
            return plan
        source = await self.chat.post_in_thread(plan.thread, plan.thread_text)
        return await self.ctx.run(ai_drafts.send_draft, self.ctx, self.actor, plan, source)
