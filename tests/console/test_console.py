"""`pitchin console`, end to end: the real core, a real HTTP intake server on a free port, the real
delivery worker and a real Maildir; commands are typed through an in-memory line source and the
terminal output is read back. One test runs the actual `python -m bot console` command."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import json
import os
import re
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.console import Console, ConsoleChat, QueueLines, banner, run_console
from bot.start_errors import StartError
from handlers.base import Button, Card, DeliveryMark, MessageRef, PersonRef, ThreadRef
from tests.stack import raw_mail

TOKEN = "t"
DEADLINE = 15.0


def console_settings(tmp_path: Path, **overrides) -> Settings:
    values = dict(database_url=f"sqlite:///{tmp_path / 'pitchin.db'}", port=0, intake_token=TOKEN, undo_seconds=0.2,
                  maildir=str(tmp_path / "maildir"), from_email="support@acme.test")
    values.update(overrides)
    return Settings(**values)


async def until(check, what: str, timeout: float = DEADLINE):
    """Poll ``check()`` until it returns something truthy; fail with ``what()`` after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what() if callable(what) else what}")
        await asyncio.sleep(0.02)


@dataclass
class Term:
    """The console as a person sees it: type a line, read what appeared."""

    lines: QueueLines
    out: io.StringIO
    task: asyncio.Task
    http: aiohttp.ClientSession
    maildir: Path
    port: int = 0

    @property
    def text(self) -> str:
        return self.out.getvalue()

    async def wait_for(self, needle: str, since: int = 0, timeout: float = DEADLINE) -> str:
        """The output from ``since`` on, once it contains ``needle``."""
        await until(lambda: needle in self.text[since:],
                    lambda: f"{needle!r} in the console output:\n{self.text[since:]}", timeout)
        return self.text[since:]

    async def type(self, line: str, expect: str) -> str:
        """Type a command; return what it printed (up to and including ``expect``)."""
        mark = len(self.text)
        self.lines.feed(line)
        seen = await self.wait_for(expect, mark)
        return seen

    async def post_message(self, payload: dict, token: str = TOKEN):
        async with self.http.post(f"http://127.0.0.1:{self.port}/intake/messages", json=payload,
                                  headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json()

    async def post_email(self, raw: bytes):
        async with self.http.post(f"http://127.0.0.1:{self.port}/intake/email", data=raw,
                                  headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "message/rfc822"}) as resp:
            return resp.status, await resp.json()

    def mails(self) -> list[email.message.EmailMessage]:
        new = self.maildir / "new"
        if not new.is_dir():
            return []
        files = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]

    async def wait_mails(self, count: int) -> list:
        return await until(lambda: m if len(m := self.mails()) >= count else None,
                           lambda: f"{count} mail(s) in {self.maildir}, have {len(self.mails())}")


async def open_console(tmp_path: Path, **overrides):
    settings = console_settings(tmp_path, **overrides)
    lines, out = QueueLines(), io.StringIO()
    task = asyncio.create_task(run_console(settings, lines, out, user="ann"))
    term = Term(lines, out, task, aiohttp.ClientSession(), Path(settings.maildir))
    await until(lambda: task.done() or "quit` to leave" in out.getvalue(),
                lambda: f"the banner:\n{out.getvalue()}")
    if task.done():
        task.result()  # raise what went wrong
    m = re.search(r"http://127\.0\.0\.1:(\d+)/intake/messages", term.text)
    if m:
        term.port = int(m.group(1))
    return term


async def close_console(term: Term) -> None:
    if not term.task.done():
        term.lines.close()
    try:
        await asyncio.wait_for(term.task, DEADLINE)
    finally:
        await term.http.close()


@pytest.fixture
async def term(tmp_path):
    t = await open_console(tmp_path)
    yield t
    await close_console(t)


CAROL = {"email": "carol@example.com", "name": "Carol", "subject": "Double charge", "text": "My card was charged twice."}


async def test_banner_says_where_intake_listens_and_where_replies_go(term, tmp_path):
    assert term.port > 0
    assert "this terminal is the support channel" in term.text
    assert f"curl -X POST http://127.0.0.1:{term.port}/intake/messages" in term.text
    assert "-H 'Authorization: Bearer t'" in term.text
    assert "SMTP_URL is not set" in term.text and str(tmp_path / "maildir") in term.text
    # and the curl example is not just printed: the server is really there
    status, body = await term.post_message(CAROL)
    assert status == 202 and body["ticket_id"] == 1


async def test_the_whole_ticket_loop_in_the_terminal(term):
    status, body = await term.post_message(CAROL)
    assert status == 202 and body["new_ticket"] is True
    shown = await term.wait_for("└─ claim 1 · close 1")
    assert "┌─ #1 · Double charge" in shown
    assert "│ From: Carol <carol@example.com>" in shown
    assert re.search(r"│ Received: \d{4}-\d\d-\d\d \d\d:\d\d UTC", shown)
    assert "│   My card was charged twice." in shown
    assert "Open: nobody has claimed it yet." in shown

    out = await term.type("claim 1", "#1 is now claimed by ann.")
    assert "You claimed #1." in out and "→ unclaim 1 · close 1" in out

    out = await term.type("reply 1 Hello Carol, we refunded the second charge.", "before then to take it back.")
    assert "Sending to carol@example.com by email in 0.2 s." in out
    assert re.search(r"Type `undo \d+`", out)
    (mail,) = await term.wait_mails(1)
    assert mail["To"] == "Carol <carol@example.com>"
    assert mail["Subject"] == "Re: Double charge"
    assert mail["From"].addresses[0].addr_spec == "support@acme.test"
    assert "Hello Carol, we refunded the second charge." in mail.get_content()
    await term.wait_for("  #1 │ ✅ delivered")

    # a note stays inside: it is confirmed, and the next real reply is the only other mail
    out = await term.type("note 1 checking the ledger first", "Noted on #1")
    assert "internal" in out
    await term.type("reply 1 note: also internal, by prefix", "Noted on #1")
    await term.type("reply 1 All done.", "before then to take it back.")
    mails = await term.wait_mails(2)
    await until(lambda: term.text.count("  #1 │ ✅ delivered") == 2, lambda: f"a second ✅ in\n{term.text}")
    assert len(term.mails()) == 2
    assert "All done." in mails[1].get_content()
    assert not any("ledger" in m.get_content() or "internal" in m.get_content() for m in term.mails())

    # the customer answers our mail: it shows under the ticket
    status, body = await term.post_email(raw_mail(sender="Carol <carol@example.com>", subject="Re: Double charge",
                                                  body="Thanks, all good now!", message_id="<c2@mail.example.com>",
                                                  in_reply_to=mail["Message-ID"]))
    assert status == 202 and body == {"ticket_id": 1, "message_id": body["message_id"], "new_ticket": False}
    out = await term.wait_for("  #1 │ Thanks, all good now!")
    assert "  #1 │ 📨 The customer wrote:" in out

    out = await term.type("close 1", "#1 is now closed (by ann).")
    assert "You closed #1." in out and "→ reopen 1" in out
    out = await term.type("list", "No open tickets.")
    out = await term.type("reopen 1", "#1 is open again, claimed by ann.")
    assert "You reopened #1." in out and "→ unclaim 1 · close 1" in out
    out = await term.type("list", "Open tickets:")
    await term.wait_for("#1 · Double charge · carol@example.com · claimed by ann")
    out = await term.type("unclaim 1", "#1 is now open: nobody has claimed it.")
    assert "You let go of #1" in out and "→ claim 1 · close 1" in out


async def test_a_customer_writing_to_a_closed_ticket_reopens_it(term):
    await term.post_message(CAROL)
    await term.wait_for("└─ claim 1 · close 1")
    await term.type("reply 1 Refunded.", "take it back")  # claims it on the way
    (mail,) = await term.wait_mails(1)
    await term.type("close 1", "#1 is now closed")
    await term.post_email(raw_mail(sender="carol@example.com", subject="Re: Double charge", body="It happened again",
                                   message_id="<c3@mail.example.com>", in_reply_to=mail["Message-ID"]))
    out = await term.wait_for("  #1 │ It happened again")
    assert "The customer wrote again (the ticket is open again)" in out
    await term.wait_for("#1 is open again, claimed by ann.")


async def test_typos_get_the_usage_line(term):
    await term.post_message(CAROL)
    await term.wait_for("└─ claim 1")
    cases = {
        "claim x": "“x” is not a ticket number.\nUsage: claim <ticket number>",
        "close": "Give one ticket number.\nUsage: close <ticket number>",
        "unclaim 1 2": "Give one ticket number.\nUsage: unclaim <ticket number>",
        "reply 1": "Usage: reply <ticket number> <text>",
        "reply": "Usage: reply <ticket number> <text>",
        "reply one Hello": "“one” is not a ticket number.\nUsage: reply <ticket number> <text>",
        "note 1   ": "Usage: note <ticket number> <text>",
        "undo": "Usage: undo <reply id>",
        "undo abc": "“abc” is not a reply id.\nUsage: undo <reply id>",
        "clam 1": "Pitchin does not know “clam”.",
        "claim 99": "There is no ticket #99.",
        "reply 99 Hello": "There is no ticket #99.",
        "undo 99": "That reply no longer exists.",
    }
    for typed, expected in cases.items():
        await term.type(typed, expected)
    assert "Sending" not in term.text and term.mails() == []
    # "#1" works like "1", and upper case like lower case
    await term.type("CLAIM #1", "You claimed #1.")


async def test_help_shows_the_same_usage_lines_as_slack_plus_the_console_ones(term):
    from handlers.registry import help_text

    out = await term.type("help", "quit")
    assert help_text() in out
    for usage in ("reply <ticket number> <text>", "note <ticket number> <text>", "undo <reply id>"):
        assert usage in out


async def test_list_and_several_tickets(term):
    await term.type("list", "No open tickets. 🎉")
    await term.post_message(CAROL)
    await term.post_message({"email": "dan@example.com", "text": "Where is my invoice?"})
    await term.wait_for("┌─ #2 · Where is my invoice?")
    await term.type("claim 2", "#2 is now claimed by ann.")
    out = await term.type("list", "Open tickets:\n#1")
    await term.wait_for("dan@example.com · claimed by ann")
    assert out.index("#1 · Double charge") < term.text.rindex("#2 · Where is my invoice?")


async def test_undo_takes_a_reply_back(tmp_path):
    term = await open_console(tmp_path, undo_seconds=60)
    try:
        await term.post_message(CAROL)
        await term.wait_for("└─ claim 1")
        out = await term.type("reply 1 Oops, wrong customer", "take it back")
        reply_id = re.search(r"`undo (\d+)`", out).group(1)
        assert "in 60 s" in out
        await term.type(f"undo {reply_id}", "Taken back: the customer will not get it.")
        await term.type(f"undo {reply_id}", "Already taken back")
        # the job is cancelled in the database: nothing is left to deliver, now or later
        from sqlalchemy import select

        from storage.db import Database
        from storage.models import TicketMessage

        db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
        try:
            with db.transaction() as session:
                (reply,) = [m for (m,) in session.execute(select(TicketMessage).where(TicketMessage.kind == "reply"))]
                assert reply.delivery_state == "cancelled"
        finally:
            db.dispose()
        assert term.mails() == []
    finally:
        await close_console(term)


async def test_quit_and_eof_end_the_console(tmp_path):
    term = await open_console(tmp_path)
    term.lines.feed("quit")
    await asyncio.wait_for(term.task, DEADLINE)
    assert term.text.rstrip().endswith("Bye.")
    await term.http.close()

    term = await open_console(tmp_path / "second")
    term.lines.close()  # Ctrl-D
    await asyncio.wait_for(term.task, DEADLINE)
    assert term.text.rstrip().endswith("Bye.")
    await term.http.close()


async def test_slack_in_the_environment_is_left_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = console_settings(tmp_path, slack_bot_token="xoxb-real", slack_signing_secret="s",
                                support_channel="C1", slack_app_token="xapp-1", maildir="relative-mail")
    console = Console(settings, QueueLines(), io.StringIO(), user="ann")
    try:
        assert list(console.pitchin.chats) == ["console"]
        assert console.pitchin.slack_app is None and console.ctx.platforms == ("console",)
        # the Maildir is shown (and used) as an absolute path
        assert console.settings.maildir == str(tmp_path / "relative-mail")
        assert str(tmp_path / "relative-mail") in banner(console.settings, 3000, "ann")
    finally:
        await console.stop()


async def test_a_taken_port_is_explained(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = console_settings(tmp_path, port=busy.getsockname()[1])
        # the same line as pitchin serve's (bot/start_errors.py); `pitchin console` prints it, exit code 2
        with pytest.raises(StartError) as exc:
            await run_console(settings, QueueLines(), io.StringIO(), user="ann")
    assert str(exc.value) == (f"Pitchin cannot start: port {settings.port} on 127.0.0.1 is in use (another pitchin "
                              f"serve?): stop it or set PORT to a free port")


def test_banner_when_intake_is_off_and_smtp_is_set(tmp_path):
    off = banner(console_settings(tmp_path, intake_token=""), 3000, "ann")
    assert "Intake is off: PITCHIN_INTAKE_TOKEN is not set" in off
    assert "PITCHIN_INTAKE_TOKEN=some-secret pitchin console" in off and "curl" not in off
    smtp = banner(console_settings(tmp_path, smtp_url="smtp://mail.acme.test:587"), 3000, "ann")
    assert "Maildir" not in smtp and "SMTP_URL" in smtp


async def test_console_chat_draws_the_chat_port_calls():
    out = io.StringIO()
    chat = ConsoleChat(out)
    card = Card(title="#3 · Login broken", body="I cannot log in.", fields=(("From", ("bo@example.com",)),),
                status=("🟢 Open: nobody has claimed it yet.",),
                actions=(Button("Claim", "ticket.claim", "3"), Button("Close", "ticket.close", "3")), accent="open")
    thread = await chat.post_ticket(card)
    assert thread == ThreadRef("console", "", "console", "ticket-3")
    claimed = Card(title=card.title, status=("🙋 Claimed by ", PersonRef("Ann"), "."),
                   actions=(Button("Unclaim", "ticket.unclaim", "3"), Button("Close", "ticket.close", "3")),
                   accent="claimed")
    await chat.update_ticket(thread, claimed)
    ref = await chat.post_in_thread(thread, "📨 The customer wrote:\nStill broken")
    await chat.mark_delivery(DeliveryMark(MessageRef("console", "", "console", "ticket-3.reply-abc"), "failed"))
    await chat.mark_delivery(DeliveryMark(MessageRef("console", "", "console", "ticket-3.reply-abc"), "recovered"))
    assert ref.platform == "console" and ref.thread_id == "ticket-3"
    text = out.getvalue()
    assert "┌─ #3 · Login broken\n│ From: bo@example.com\n" in text
    assert "└─ claim 3 · close 3\n" in text
    assert "#3 is now claimed by Ann.  → unclaim 3 · close 3\n" in text
    assert "  #3 │ 📨 The customer wrote:\n  #3 │ Still broken\n" in text
    assert "  #3 │ ⚠️ not delivered yet\n  #3 │ ✅ delivered\n" in text
    # a title without a number still gets a thread of its own
    assert (await chat.post_ticket(Card(title="No number"))).thread_id == "ticket-1"


async def test_console_chat_prints_posts_to_channels_and_people():
    out = io.StringIO()
    chat = ConsoleChat(out)
    posted = await chat.post_to_channel("general", "Ann is on support duty today.")
    await chat.direct("", "ann", "", Card(title="Your shift", body="Today, all day."))
    assert posted.channel == "general"
    assert out.getvalue() == ("📣 #general: Ann is on support duty today.\n"
                              "✉️  to ann: ┌─ Your shift\n│\n│   Today, all day.\n└─\n")


# ---------------------------------------------------------------- the real command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.out = bytearray()
        self.err = bytearray()
        self._readers = [asyncio.create_task(self._drain(proc.stdout, self.out)),
                         asyncio.create_task(self._drain(proc.stderr, self.err))]

    @staticmethod
    async def _drain(stream, into: bytearray) -> None:
        while chunk := await stream.read(4096):
            into.extend(chunk)

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", errors="replace")

    def explain(self) -> str:
        return f"stdout:\n{self.text}\nstderr:\n{self.err.decode(errors='replace')[-3000:]}"

    async def wait_for(self, needle: str, since: int = 0) -> None:
        def seen():
            if self.proc.returncode is not None and needle not in self.text[since:]:
                pytest.fail(f"pitchin console exited ({self.proc.returncode}) before printing {needle!r}\n"
                            + self.explain())
            return needle in self.text[since:]

        await until(seen, lambda: f"{needle!r} from `pitchin console`\n{self.explain()}", timeout=30)

    async def type(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self) -> int:
        try:
            rc = await asyncio.wait_for(self.proc.wait(), 30)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            pytest.fail("pitchin console did not exit\n" + self.explain())
        await asyncio.gather(*self._readers)
        return rc


async def start_command(tmp_path: Path) -> tuple[Process, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "PITCHIN_", "SMTP_", "IMAP_", "MICROSOFT_", "OPENAI_", "DATABASE_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", HOST="127.0.0.1", PORT=str(port),
               PITCHIN_INTAKE_TOKEN=TOKEN, PITCHIN_MAILDIR=str(tmp_path / "mail"), PYTHONUNBUFFERED="1")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", cwd=tmp_path, env=env,  # cwd: no stray .env is read
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return Process(proc), port


async def test_the_pitchin_console_command(tmp_path):
    p, port = await start_command(tmp_path)
    try:
        await p.wait_for(f"http://127.0.0.1:{port}/intake/messages")
        await p.wait_for(str(tmp_path / "mail"))
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/intake/messages", data=json.dumps(CAROL),
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as r:
                assert r.status == 202, await r.text()
        await p.wait_for("┌─ #1 · Double charge")
        await p.wait_for("└─ claim 1 · close 1")
        mark = len(p.text)
        await p.type("list")
        await p.wait_for("#1 · Double charge · carol@example.com · unclaimed", since=mark)
        await p.type("claim 1")
        await p.wait_for("You claimed #1.", since=mark)
        await p.type("quit")
        rc = await p.finish()
    finally:
        if p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()
    assert rc == 0, p.explain()
    assert p.text.rstrip().endswith("Bye."), p.explain()
    assert "Traceback" not in p.err.decode(errors="replace"), p.explain()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_ctrl_c_stops_the_command_cleanly(tmp_path):
    p, port = await start_command(tmp_path)
    try:
        await p.wait_for("quit` to leave")
        p.proc.send_signal(signal.SIGINT)
        rc = await p.finish()
    finally:
        if p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()
    assert rc == 0, p.explain()
    assert "Bye." in p.text and "Traceback" not in p.err.decode(errors="replace"), p.explain()
