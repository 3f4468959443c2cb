"""`pitchin console`: the whole core with this terminal as the support channel (no Slack needed).

Customer messages still arrive over HTTP (/intake/*) and are delivered to the terminal by the
same outbox worker that posts to Slack; typed commands run the same handlers a Slack click does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import sys
from dataclasses import replace
from typing import TextIO

from bot.config import Settings
from bot.console.chat import ConsoleChat
from bot.console.leaving import Leaving, other_process, sharing_warning
from bot.console.repl import LineSource, QueueLines, Repl, StreamLines, local_actor

__all__ = ["run_console", "Console", "ConsoleChat", "QueueLines", "StreamLines", "banner"]

PROMPT = "pitchin> "


def console_settings(settings: Settings) -> Settings:
    """The settings the console runs on: never Slack or Teams (the terminal is the channel), and an
    absolute Maildir so the banner shows exactly where replies go."""
    return replace(settings, slack_bot_token="", slack_app_token="", microsoft_app_id="", teams=False,
                   maildir=os.path.abspath(settings.maildir))


class Console:
    """One Pitchin process whose chat platform is a text stream."""

    def __init__(self, settings: Settings, lines: LineSource | TextIO | None = None, output: TextIO | None = None,
                 user: str | None = None, prompt: str | None = None):
        from bot.app import Pitchin

        self.settings = console_settings(settings)
        self.output = output
        self.chat = ConsoleChat(output)
        source = lines if lines is not None else sys.stdin
        if not _is_async_source(source):
            if prompt is None:
                prompt = PROMPT if _isatty(source) and _isatty(self.chat.stream) else ""
            source = StreamLines(source)
        self.pitchin = Pitchin(self.settings, extra_chats={"console": self.chat})
        self.repl = Repl(self.pitchin.ctx, self.chat, source, local_actor(user), prompt or "")
        self.leaving = Leaving(self)
        self.log_file: str | None = None  # where background warnings go (run_console sets it)

    @property
    def port(self) -> int:
        return self.pitchin.port

    @property
    def ctx(self):
        return self.pitchin.ctx

    async def start(self) -> None:
        await self.pitchin.start(http=True, worker=True, scheduler=False)
        try:
            server = await self.ctx.db.run(other_process, self.ctx.db, self.pitchin.worker.owner)
        except Exception:  # a check, not a reason to refuse the console
            server = None
        # the banner comes last: once it shows, the console is ready (and Ctrl-C handled)
        self.chat.write(banner(self.settings, self.port, self.repl.actor.name, self.log_file)
                        + (f"\n{sharing_warning(server)}\n" if server else ""))

    async def run(self) -> None:
        """The REPL, then (quit, exit, end of input) the question about replies still in their undo window."""
        await self.repl.run()
        await self.leaving()

    async def stop(self) -> None:
        await self.pitchin.stop()


def _is_async_source(source) -> bool:
    import inspect

    return inspect.iscoroutinefunction(getattr(source, "readline", None))


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def banner(settings: Settings, port: int, user: str, log_file: str | None = None) -> str:
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    url = f"http://{host}:{port}/intake/messages"
    lines = [
        "Pitchin console: this terminal is the support channel.",
        f"You are {user}. Type `help` for the commands, `quit` to leave.",
        "",
    ]
    if settings.intake_token:
        example = '{"email": "carol@example.com", "name": "Carol", "subject": "Double charge", ' \
                  '"text": "My card was charged twice."}'
        lines += [
            f"Customer messages arrive over HTTP at {url}, e.g.:",
            f"  curl -X POST {url} \\",
            f"    -H {shlex.quote('Authorization: Bearer ' + settings.intake_token)} \\",
            "    -H 'Content-Type: application/json' \\",
            f"    -d {shlex.quote(example)}",
            f"  (raw emails: POST them to http://{host}:{port}/intake/email as message/rfc822)",
        ]
    else:
        lines += [
            "Intake is off: PITCHIN_INTAKE_TOKEN is not set, so /intake/* refuses every request.",
            "  To let customer messages in, start with a token: PITCHIN_INTAKE_TOKEN=some-secret pitchin console",
        ]
    if settings.smtp_url:
        lines.append("Replies to customers are sent through SMTP_URL.")
    else:
        lines += [
            "SMTP_URL is not set: customer replies are not emailed; each is written as an .eml file to the Maildir",
            f"  {settings.maildir}  (new mail in {os.path.join(settings.maildir, 'new')})",
        ]
    if log_file:
        lines.append(f"Warnings from background work (retries, delivery failures) go to {log_file}")
    return "\n".join(lines) + "\n"


def log_file_for(settings: Settings) -> str:
    """Next to the Maildir (by default both in the current directory)."""
    return os.path.join(os.path.dirname(os.path.abspath(settings.maildir)), "pitchin-console.log")


def _to_file(path: str) -> logging.Handler | None:
    try:
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


async def run_console(settings: Settings, lines: LineSource | TextIO | None = None, output: TextIO | None = None,
                      user: str | None = None) -> None:
    """Run Pitchin with the terminal as its support channel until `quit`, end of input, Ctrl-C or
    SIGTERM; then stop it cleanly (the outbox keeps whatever was not delivered yet)."""
    quiet = logging.getLogger("pitchin")
    migrations = logging.getLogger("alembic")
    before = quiet.level, migrations.level
    verbose = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    if not verbose:  # the banner says what start() would log; keep the terminal for tickets
        quiet.setLevel(logging.ERROR)
        migrations.setLevel(logging.WARNING)
    console = Console(settings, lines, output, user)
    # background work (delivery retries, failures) logs to a file, not into the prompt; -v keeps the terminal
    to_file = None if verbose else _to_file(log_file_for(console.settings))
    if to_file is not None:
        quiet.addHandler(to_file)
        quiet.propagate = False
        console.log_file = to_file.baseFilename
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    step: asyncio.Task | None = None  # what Ctrl-C or SIGTERM cancels: starting, then the REPL
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        if step is not None:
            step.cancel()

    # installed before the banner shows: a Ctrl-C right after it must not find Python's default handler
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, interrupt)
            installed.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or Windows
            pass
    try:
        step = asyncio.create_task(console.start(), name="console-start")
        try:
            await step
        except OSError as exc:  # the port is taken, or the host is not an address of this machine
            raise SystemExit(f"Pitchin console cannot listen on {settings.host}:{settings.port}: "
                             f"{exc.strerror or exc}. Set PORT (and HOST) to a free address.") from None
        if not verbose:
            quiet.setLevel(logging.WARNING)  # delivery failures and retries: to the log file
        step = asyncio.create_task(console.run(), name="console-repl")
        await step
    except asyncio.CancelledError:
        if not interrupted:
            raise
        console.chat.write("")  # end the line ^C was typed on
        await console.leaving.keep_after_interrupt()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await console.stop()
        quiet.setLevel(before[0])
        migrations.setLevel(before[1])
        if to_file is not None:
            quiet.removeHandler(to_file)
            quiet.propagate = True
            to_file.close()
    console.chat.write("Bye.")
