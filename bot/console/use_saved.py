"""`use <ticket>` in the console: the three closest saved replies, numbered, filled in for the ticket;
the person picks one, keeps it or types their own version, and it goes through the normal reply path
(handlers/use_saved.py), posted in the ticket's thread as their message."""

from __future__ import annotations

from typing import Awaitable, Callable

from bot.console.chat import ConsoleChat, message_for
from handlers import use_saved
from handlers.base import Actor, Reply
from handlers.context import Context

USAGE = "use <ticket number>"
CANCEL = "cancel"


def _usage(message: str) -> Reply:
    return Reply(f"{message}\nUsage: {USAGE}", ok=False)


def offer_text(offer: use_saved.Offer) -> str:
    lines = [f"Saved replies closest to the customer's message on {offer.title}:"]
    for number, option in enumerate(offer.options, 1):
        lines.append(f"  {number}. {option.name}")
        lines += [f"     {line}" for line in option.text.splitlines() or [""]]
    return "\n".join(lines)


class ConsoleUseSaved:
    def __init__(self, ctx: Context, actor: Actor, chat: ConsoleChat, ask: Callable[[str], Awaitable[str | None]]):
        self.ctx, self.actor, self.chat, self.ask = ctx, actor, chat, ask

    async def command(self, args: list[str]) -> Reply | None:
        if len(args) != 1 or not args[0].lstrip("#").isdigit():
            return _usage("Give one ticket number.")
        ticket_id = int(args[0].lstrip("#"))
        offer = await self.ctx.run(use_saved.offer, self.ctx, self.actor, ticket_id)
        if isinstance(offer, Reply):
            return offer
        choices = len(offer.options)
        answer = await self.ask(f"{offer_text(offer)}\nWhich one? (1–{choices}, or `{CANCEL}`)")
        while answer is not None and answer.strip().lower() != CANCEL and not _choice(answer, choices):
            answer = await self.ask(f"Type a number from 1 to {choices} (or `{CANCEL}`):")
        if answer is None or answer.strip().lower() == CANCEL:
            return Reply("Nothing sent.")
        option = offer.options[_choice(answer, choices) - 1]
        left = f" Fill in {', '.join(f'[[{p}]]' for p in option.placeholders)}." if option.placeholders else ""
        edited = await self.ask(f"Press Enter to send “{option.name}” as shown, or type the reply to send "
                                f"instead (`{CANCEL}` stops).{left}")
        if edited is None or edited.strip().lower() == CANCEL:
            return Reply("Nothing sent.")
        text = edited.strip() or option.text
        ready = await self.ctx.run(use_saved.prepare, self.ctx, self.actor, ticket_id, option.saved_reply_id, text,
                                   "console")
        if isinstance(ready, Reply):
            return ready
        if ready.thread is not None:
            source = await self.chat.post_in_thread(ready.thread, ready.line)
        else:  # a ticket from before the console was a door: its thread is the ticket number
            source = message_for(ticket_id, "saved")
            self.chat.write(ready.line)
        reply = await self.ctx.run(use_saved.send, self.ctx, self.actor, ticket_id, option.saved_reply_id, text, source)
        return reply or Reply(f"📝 Noted on #{ticket_id}: internal, the customer does not see it.")


def _choice(answer: str, choices: int) -> int:
    word = answer.strip().rstrip(".")
    return int(word) if word.isdigit() and 1 <= int(word) <= choices else 0
