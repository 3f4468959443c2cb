"""`saved …` in the console: `saved add <name>` and `saved edit <name>` without text ask for it, a
line at a time; everything else (list, show, remove, `saved add <name> from #3`, a reply typed on
the line) runs through the registry as any command. The same core calls as Slack's modal."""

from __future__ import annotations

from dataclasses import replace
from typing import Awaitable, Callable

from handlers import registry, saved_command, saved_replies
from handlers.base import Reply
from handlers.saved_replies import Form

CANCEL = "cancel"


class ConsoleSaved:
    """``ask(question)`` reads the person's answer (None at the end of input)."""

    def __init__(self, ctx, actor, ask: Callable[[str], Awaitable[str | None]]):
        self.ctx = ctx
        self.actor = actor
        self.ask = ask

    async def command(self, text: str) -> Reply:
        """`saved …` (``text`` is what follows the word)."""
        found = await self.ctx.run(saved_command.form_request, self.ctx, self.actor, text)
        if isinstance(found, Reply):
            return found
        if isinstance(found, Form):
            return await self.form(found)
        return await self.ctx.run(registry.run_command, self.ctx, self.actor, f"saved {text}")

    async def form(self, form: Form) -> Reply:
        """The form as questions: the text on one line (``\\n`` starts a new line in it) and, when
        changing a reply, its name. A wrong text is asked again with what is wrong."""
        editing = form.reply_id is not None
        if editing:
            question = f"{form.note} It says now:\n{form.text}\nThe new text (Enter keeps it)"
        else:
            whose = "your own reply" if form.mine else "a team reply"
            question = f"New saved reply “{form.name}”, {whose}.\n{saved_replies.variables_help()}\nThe reply"
        question += " — one line, \\n for a new line; `cancel` stops:"
        while True:
            text = await self.ask(question)
            if text is None or text.strip().lower() == CANCEL:
                return Reply("Nothing saved.")
            text = text.replace("\\n", "\n").strip() or (form.text if editing else "")
            if editing:
                name = await self.ask(f"Name (Enter keeps “{form.name}”):")
                if name is None or name.strip().lower() == CANCEL:
                    return Reply("Nothing saved.")
                form = replace(form, name=name.strip() or form.name)
            reply, problems = await self.ctx.run(saved_replies.submit, self.ctx, self.actor, replace(form, text=text))
            if "text" not in problems:
                return reply  # saved, or a name to type again with the command
            question = f"{problems['text']}\nThe reply again — one line, \\n for a new line; `cancel` stops:"
