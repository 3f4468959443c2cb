"""`feedback …` in the console: one line, the form as questions, the offer of similar cards as a
numbered choice, the shipped/declined confirmation as y/n, and the export as a file.

The same core calls as Slack's /feedback and Teams' @Pitchin feedback: registry.run_feedback,
feedback.log, registry.run_action. Where Slack shows buttons the console asks a question; the
button's command (`add 5:1`, `new 5`, `announce 7`) also works typed later.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Awaitable, Callable

from bot.console.chat import command_for
from handlers import feedback, registry
from handlers.base import Reply
from handlers.customers import split_customers
from handlers.feedback import IMPORTANCE, Draft

COMMAND = "feedback"  # how the core's usage lines spell the command here
FROM_USAGE = "feedback from <ticket number>"
EXPORT_USAGE = "feedback export [--path FILE]"
CANCEL = "cancel"

HELP = (
    "Feedback in the console:\n"
    f"  {'feedback':<28} the form, one question at a time (`cancel` stops it)\n"
    f"  {FROM_USAGE:<28} the form, about a ticket: its customer is included\n"
    f"  {EXPORT_USAGE:<28} every request as CSV, written to a file\n"
    f"  {'add <offer> · new <offer>':<28} answer an offer of similar cards later\n"
    f"  {'announce <confirmation>':<28} confirm a shipped/declined announcement later"
)


def _usage(message: str, usage: str) -> Reply:
    return Reply(f"{message}\nUsage: {usage}", ok=False)


def free_path(path: Path) -> Path:
    """``path``, or ``name-2.csv``, ``name-3.csv`` … when it is taken: an export never overwrites one."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


class ConsoleFeedback:
    """``ask(question)`` reads the person's answer (None at the end of input)."""

    def __init__(self, ctx, actor, ask: Callable[[str], Awaitable[str | None]],
                 workdir: Callable[[], str] = os.getcwd):
        self.ctx = ctx
        self.actor = actor
        self.ask = ask
        # core work goes through Context.run: it takes embedding work off the event loop, which the
        # console shares with HTTP intake and the delivery worker
        self.run = ctx.run
        self.workdir = workdir

    async def command(self, text: str) -> Reply | None:
        """`feedback …` (``text`` is what follows the word)."""
        words = text.split()
        verb = words[0].lower() if words else ""
        if not words:
            return await self.form(Draft(text=""))
        if verb == "from" and len(words) == 2 and words[1].lstrip("#").isdigit():
            ticket = int(words[1].lstrip("#"))
            draft = await self.run(feedback.draft_for_ticket, self.ctx, ticket)
            if draft is None:
                return _usage(f"There is no ticket #{ticket}. `list` shows the open ones.", FROM_USAGE)
            return await self.form(draft)
        if verb == "from" and len(words) == 1:
            return _usage("Give the ticket number.", FROM_USAGE)
        if verb == "export" and (len(words) == 1 or words[1].startswith("--")):  # else: feedback about exports
            return await self.export(words[1:])
        reply = await self.run(registry.run_feedback, self.ctx, self.actor, text, None, COMMAND)
        return await self.follow_up(reply)

    # ------------------------------------------------------------ the form, as questions

    async def form(self, draft: Draft) -> Reply | None:
        intro = "Log feedback: answer each question (Enter skips one; `cancel` stops)."
        if draft.ticket_id:
            intro += f" From ticket #{draft.ticket_id}: {', '.join(draft.customers)} is included."
        text = await self._required(intro + "\nWhat does the customer want? (required)")
        if text is None:
            return Reply("Not logged.")
        answers = []
        for question in ("Customers (emails or names, comma separated):" if not draft.customers else
                         "Other customers who asked too (emails or names, comma separated):",
                         "Department:"):
            answer = await self._optional(question)
            if answer is None:
                return Reply("Not logged.")
            answers.append(answer)
        importance = await self._importance()
        if importance is None:
            return Reply("Not logged.")
        quote = await self._optional("Quote (the customer's own words):")
        if quote is None:
            return Reply("Not logged.")
        customers = draft.customers + split_customers(answers[0])
        filled = replace(draft, text=text, customers=customers, department=answers[1], importance=importance,
                         quote=quote)
        return await self.follow_up(await self.run(feedback.log, self.ctx, self.actor, filled, COMMAND))

    async def _answer(self, question: str) -> str | None:
        """The answer, stripped; None for `cancel` and the end of input."""
        answer = await self.ask(question)
        if answer is None or answer.strip().lower() == CANCEL:
            return None
        return answer.strip()

    async def _required(self, question: str) -> str | None:
        while True:
            answer = await self._answer(question)
            if answer is None or answer:
                return answer
            question = "Say what the customer wants (or `cancel`):"

    async def _optional(self, question: str) -> str | None:
        return await self._answer(question)

    async def _importance(self) -> str | None:
        choices = "  ".join(f"{n}) {word}" for n, word in enumerate(IMPORTANCE, 1))
        question = f"Importance: {choices} (Enter skips):"
        while True:
            answer = await self._answer(question)
            if answer is None or answer == "":
                return answer
            if answer.isdigit() and 1 <= int(answer) <= len(IMPORTANCE):
                return IMPORTANCE[int(answer) - 1]
            if answer.lower() in IMPORTANCE:
                return answer.lower()
            question = f"Type 1–{len(IMPORTANCE)} or the word: {choices} (Enter skips):"

    # ------------------------------------------------------------ buttons become questions

    async def follow_up(self, reply: Reply) -> Reply | None:
        ids = {b.action_id for b in reply.actions}
        if "feedback.add" in ids or "feedback.new" in ids:
            return await self.choose(reply)
        if "feedback.announce" in ids:
            return await self.confirm(reply)
        return reply

    async def choose(self, offer: Reply) -> Reply | None:
        """"Heard before": pick a card by its number in the list, or n for a new one."""
        adds = [b for b in offer.actions if b.action_id == "feedback.add"]
        new = next((b for b in offer.actions if b.action_id == "feedback.new"), None)
        header, *lines = offer.text.splitlines()
        listed = [header]
        for n, button in enumerate(adds, 1):
            card = button.value.partition(":")[2]
            line = next((ln for ln in lines if re.match(rf"#{card}\b", ln)), button.label)
            listed.append(f"  {n}) {line}")
        if new is not None:
            listed.append("  n) a new card")
        later = " · ".join(f"`{command_for(b)}`" for b in offer.actions)
        numbers = "1" if len(adds) == 1 else f"1–{len(adds)}"
        question = "\n".join(listed) + f"\nAdd it to which? Type {numbers}, n for a new card, or Enter to decide later."
        while True:
            answer = await self.ask(question)
            answer = (answer or "").strip().lower()
            if answer == "":
                return Reply(f"Not logged yet. Later, type one of: {later}.")
            if answer.isdigit() and 1 <= int(answer) <= len(adds):
                button = adds[int(answer) - 1]
            elif answer in ("n", "new") and new is not None:
                button = new
            else:
                question = f"Type {numbers}, n for a new card, or Enter to decide later."
                continue
            return await self.run(registry.run_action, self.ctx, self.actor, button.action_id, button.value)

    async def confirm(self, preview: Reply) -> Reply | None:
        """Shipped or declined: everyone on the card will be told, so ask first."""
        button = next(b for b in preview.actions if b.action_id == "feedback.announce")
        question = preview.text + "\nConfirm? (y/n)"
        while True:
            answer = ((await self.ask(question)) or "n").strip().lower()
            if answer in ("y", "yes"):
                return await self.run(registry.run_action, self.ctx, self.actor, button.action_id, button.value)
            if answer in ("n", "no", ""):
                return Reply(f"Nothing changed, nobody told. To confirm later: `{command_for(button)}`.")
            question = "Confirm? Type y or n."

    # ------------------------------------------------------------ export

    async def export(self, args: list[str]) -> Reply:
        if args and (args[0] != "--path" or len(args) != 2):
            return _usage("Say where with --path FILE, or nothing for the working directory.", EXPORT_USAGE)
        reply = await self.run(registry.run_feedback, self.ctx, self.actor, "export")
        name, content = reply.file
        if args:
            target = Path(os.path.expanduser(args[1]))
            if target.is_dir():
                target = free_path(target / name)
        else:
            target = free_path(Path(self.workdir()) / name)
        try:
            target.write_text(content, encoding="utf-8", newline="")
        except OSError as exc:
            return Reply(f"Could not write {target}: {exc.strerror or exc}.", ok=False)
        rows = max(sum(1 for _ in csv.reader(io.StringIO(content))) - 1, 0)
        return Reply(f"{reply.text} {rows} row{'s' if rows != 1 else ''} written to {target.resolve()}")
