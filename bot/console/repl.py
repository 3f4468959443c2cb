"""The console's read–eval–print loop: typed commands → the same handlers Slack and Teams use.

Lines come from a ``LineSource`` (anything with ``async readline() -> str``, "" at the end).
``StreamLines`` reads a real stream (stdin) on a daemon thread so the event loop never blocks;
``QueueLines`` is fed from code (tests, embedding).
"""

from __future__ import annotations

import asyncio
import codecs
import getpass
import os
import re
import threading
from pathlib import Path
from typing import Callable, Protocol, TextIO

from bot.console import ai as console_ai
from bot.console.chat import CHANNEL, ConsoleChat, command_for, message_for
from bot.console.feedback import HELP as FEEDBACK_HELP
from bot.console.feedback import COMMAND as FEEDBACK_COMMAND, ConsoleFeedback, free_path
from bot.console.saved import ConsoleSaved
from bot.console.use_saved import USAGE as USE_USAGE
from bot.console.use_saved import ConsoleUseSaved
from handlers import registry, tickets
from handlers.base import Actor, Named, Reply
from handlers.context import Context

REPLY_USAGE = "reply <ticket number> <text>"
NOTE_USAGE = "note <ticket number> <text>"
UNDO_USAGE = "undo <reply id>"
QUIT_WORDS = ("quit", "exit")
ASK_PROMPT = "  > "
# a button's command typed later (`add 5:1` for "Add to #1"): word → the action id it clicks
TYPED_BUTTONS = {"add": "feedback.add", "new": "feedback.new", "announce": "feedback.announce",
                 "unmerge": "feedback.unmerge", "take": "rotation.take",
                 "move": "briefing.move", "unmove": "briefing.unmove", "post": "briefing.post"}
# buttons whose command alone does not say which is which (a briefing's "1 · Not ours → Billing"):
# shown with their label
LABELLED = {"briefing.move", "briefing.unmove", "briefing.post"}
# a channel typed in a command: "#support" (not "#3", a ticket's number)
_CHANNEL = re.compile(r"(?<!\S)#([A-Za-z][\w.-]*)")

CONSOLE_HELP = (
    "In the console:\n"
    f"  {REPLY_USAGE:<28} answer the customer (sent after the undo window)\n"
    f"  {NOTE_USAGE:<28} an internal note: the customer never sees it\n"
    f"  {UNDO_USAGE:<28} take a reply back before it is sent\n"
    f"  {USE_USAGE:<28} answer with one of the saved replies closest to the customer's message\n"
    f"  {'quit':<28} leave (Ctrl-D works too)"
)


class LineSource(Protocol):
    async def readline(self) -> str:
        """The next line (with or without its newline); "" at the end of input."""


class QueueLines:
    """Lines fed from code: ``feed("claim 1")``; ``close()`` is the end of input."""

    def __init__(self, reopens: bool = False) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self.reopens = reopens  # like a terminal: lines fed after close() are read after the end of input

    def feed(self, *lines: str) -> None:
        for line in lines:
            self._queue.put_nowait(line if line.endswith("\n") else line + "\n")

    def close(self) -> None:
        self._queue.put_nowait("")

    async def readline(self) -> str:
        return await self._queue.get()


class StreamLines:
    """Lines from a blocking text stream, read on a daemon thread.

    A stream with a file descriptor (stdin) is read with ``os.read``: a daemon thread blocked in
    a buffered ``readline`` at interpreter exit can abort Python ("could not acquire lock for
    <stdin>"), a raw read cannot.
    """

    def __init__(self, stream: TextIO):
        self.stream = stream
        # a terminal can be read again after Ctrl-D (the quit question is answered there); a pipe or file cannot
        self.reopens = _isatty(stream)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def readline(self) -> str:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._pump, name="console-stdin", daemon=True)
            self._thread.start()
        return await self._queue.get()

    def _put(self, line: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, line)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def _pump(self) -> None:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        try:
            if fd is None:
                for line in iter(self.stream.readline, ""):
                    self._put(line)
            else:
                self._pump_fd(fd)
        except (OSError, ValueError):
            pass
        self._put("")

    def _pump_fd(self, fd: int) -> None:
        decoder = codecs.getincrementaldecoder(getattr(self.stream, "encoding", None) or "utf-8")(errors="replace")
        pending = ""
        while True:
            chunk = os.read(fd, 4096)
            pending += decoder.decode(chunk, final=not chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                self._put(line + "\n")
            if not chunk:
                if pending:
                    self._put(pending)
                if not self.reopens:
                    return
                self._put("")  # Ctrl-D on a terminal: the end of this input; what is typed next is read on
                pending = ""
                decoder.reset()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def local_actor(user: str | None = None) -> Actor:
    """The person at the keyboard: the local user name."""
    if user is None:
        try:
            user = getpass.getuser()
        except Exception:  # no USER/LOGNAME and no passwd entry (some containers)
            user = "console"
    return Actor("console", user, name=user)


def named_in(text: str) -> tuple[str, Named]:
    """A typed command with each channel ("#support") a neutral token (``<channel:0>``). People are
    typed by name or email: the core finds them among the people it knows."""
    channels: list[str] = []

    def token(m: re.Match) -> str:
        if m.group(1) not in channels:
            channels.append(m.group(1))
        return f"<channel:{channels.index(m.group(1))}>"

    return _CHANNEL.sub(token, text), Named(channels=tuple(channels), here=CHANNEL)


def _number(word: str) -> int | None:
    word = word.lstrip("#")
    return int(word) if word.isdigit() else None


def save_image(reply: Reply, folder: str) -> Reply:
    """Write ``reply.image`` into ``folder`` (never over another file) and say where, after the words."""
    name, png = reply.image
    target = free_path(Path(folder) / name)
    try:
        target.write_bytes(png)
    except OSError as exc:
        return Reply(f"{reply.text}\n⚠️ Could not write the chart to {target}: {exc.strerror or exc}.", ok=False)
    return Reply(f"{reply.text}\n📈 The week-by-week chart is in {target.resolve()}", ok=reply.ok)


def _usage(message: str, usage: str) -> Reply:
    return Reply(f"{message}\nUsage: {usage}", ok=False)


class Repl:
    """Reads commands, runs them through the core, prints what the person is told."""

    def __init__(self, ctx: Context, chat: ConsoleChat, lines: LineSource, actor: Actor, prompt: str = "",
                 workdir: Callable[[], str] = os.getcwd):
        self.ctx = ctx
        self.workdir = workdir  # where a chart is written: the working directory, as an export is
        self.chat = chat
        self.lines = lines
        self.actor = actor
        self.prompt = prompt
        chat.prompt = prompt
        self.ended = False  # the input ended (perhaps while a question was being answered)
        self.feedback = ConsoleFeedback(ctx, actor, self.ask)
        self.saved = ConsoleSaved(ctx, actor, self.ask)
        self.drafts = console_ai.ConsoleDrafts(ctx, chat, actor, self.ask)
        self.use_saved = ConsoleUseSaved(ctx, actor, chat, self.ask)

    def say(self, text: str) -> None:
        self.chat.write(text)

    async def run(self) -> None:
        """Until `quit`, `exit` or the end of input."""
        while not self.ended:
            line = await self._read(self.prompt)
            if line == "" or not await self.handle(line):
                return

    async def _read(self, prompt: str) -> str:
        if prompt:
            self.chat.stream.write(prompt)
            self.chat.stream.flush()
        self.chat.interactive, before, self.chat.prompt = bool(prompt), self.chat.prompt, prompt or self.chat.prompt
        try:
            line = await self.lines.readline()
        finally:  # also when Ctrl-C cancels the wait: later lines need no prompt redrawn
            self.chat.interactive, self.chat.prompt = False, before
        if isinstance(line, bytes):  # an asyncio.StreamReader
            line = line.decode("utf-8", errors="replace")
        if line == "":
            self.ended = True
        return line

    def can_ask(self) -> bool:
        """Whether a question can still be answered: the input has not ended, or it is a terminal
        (Ctrl-D ends one input there, and the person can type on)."""
        return not self.ended or getattr(self.lines, "reopens", False)

    async def ask(self, question: str) -> str | None:
        """Ask the person something and read their answer (None when the input has ended)."""
        if not self.can_ask():
            return None
        self.ended = False
        self.say(question)
        line = await self._read(ASK_PROMPT if self.prompt else "")
        return None if line == "" else line.rstrip("\r\n")

    async def handle(self, line: str) -> bool:
        """Run one typed line; False when it asks to leave."""
        text = line.strip()
        if not text:
            return True
        word = text.split()[0].lower()
        if word in QUIT_WORDS:
            return False
        try:
            reply = await self._dispatch(word, text)
        except Exception as exc:  # the database went away for a moment: say so, keep the console
            reply = Reply(f"That did not work: {type(exc).__name__}: {exc}", ok=False)
        if reply is not None:
            self.say(self.render(reply))
        return True

    async def _dispatch(self, word: str, text: str) -> Reply | None:
        if word in ("reply", "note"):
            return await self._answer(text, internal=(word == "note"))
        if word == "undo":
            return await self._undo(text)
        if word == "use":
            return await self.use_saved.command(text.split()[1:])
        if word == "feedback":
            parts = text.split(None, 1)
            return await self.feedback.command(parts[1] if len(parts) > 1 else "")
        if word == "saved":
            return await self.saved.command(text[len(word):])
        if word in TYPED_BUTTONS:
            return await self._button(word, text)
        if word in console_ai.WORDS:  # an AI draft's Send, Edit, Discard
            return await self.drafts.run(word, text)
        text, named = named_in(text)
        reply = await self.ctx.run(registry.run_command, self.ctx, self.actor, text, "", named)
        if reply.image is not None:  # `stats`: a terminal shows no picture; the chart becomes a file
            return save_image(reply, self.workdir())
        if word == "help" or (word not in registry.COMMANDS):
            reply = Reply(f"{reply.text}\n{CONSOLE_HELP}\n{FEEDBACK_HELP}\n"
                          f"{registry.feedback_help(FEEDBACK_COMMAND)}", ok=reply.ok)
        return reply

    async def _button(self, word: str, text: str) -> Reply:
        """`add 5:1`, `new 5`, `announce 7`: what an offer's or a preview's button would have done."""
        args = text.split()[1:]
        if len(args) != 1:
            return _usage("Give the value shown after the word (as in `add 5:1`).", f"{word} <value>")
        reply = await self.ctx.run(registry.run_action, self.ctx, self.actor, TYPED_BUTTONS[word], args[0])
        return reply

    async def _answer(self, text: str, internal: bool) -> Reply | None:
        usage = NOTE_USAGE if internal else REPLY_USAGE
        m = re.match(r"^\S+\s+(\S+)(?:\s+(.*))?$", text, re.S)
        if m is None:
            return _usage("Give a ticket number and the text.", usage)
        ticket = _number(m.group(1))
        if ticket is None:
            return _usage(f"“{m.group(1)}” is not a ticket number.", usage)
        body = (m.group(2) or "").strip()
        if not body:
            return _usage(f"Give the text to {'note' if internal else 'send'} after the ticket number.", usage)
        source = message_for(ticket, "note" if internal else "reply")
        reply = await self.ctx.run(tickets.answer, self.ctx, self.actor, ticket, body, source, internal)
        if reply is None:  # kept internal as asked ("note", or a reply starting with "note:")
            return Reply(f"📝 Noted on #{ticket}: internal, the customer does not see it.")
        return reply

    async def _undo(self, text: str) -> Reply:
        args = text.split()[1:]
        if len(args) != 1:
            return _usage("Give one reply id (the number in the `undo …` hint after a reply).", UNDO_USAGE)
        reply_id = _number(args[0])
        if reply_id is None:
            return _usage(f"“{args[0]}” is not a reply id.", UNDO_USAGE)
        return await self.ctx.run(registry.run_action, self.ctx, self.actor, "reply.undo", str(reply_id))

    @staticmethod
    def render(reply: Reply) -> str:
        """A Reply as text; its buttons become commands to type."""
        text = reply.text
        undo = [b for b in reply.actions if b.action_id == "reply.undo"]
        others = [b for b in reply.actions if b.action_id != "reply.undo"]
        if undo:
            text += f" Type `{command_for(undo[0])}` before then to take it back."
        if others:
            text += "\n→ " + " · ".join(f"{b.label}: {command_for(b)}" if b.action_id in LABELLED else command_for(b)
                                        for b in others)
        return text
