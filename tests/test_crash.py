"""Nothing is lost, nothing is doubled: SMTP down then up, and the process killed (SIGKILL)
between accepting a reply (or queueing a channel post or a DM) and delivering it. Runs the real
`pitchin serve` as a subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from handlers import outbound
from handlers.base import Actor
from handlers.context import Context
from storage import repos
from storage.db import Database
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.smtp import SmtpSink
from tests.stack import CHANNEL, SECRET, TOKEN, Stack, raw_mail

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    def __init__(self, env: dict, log: Path, preexec_fn=None):
        self.env, self.log, self.preexec_fn = env, log, preexec_fn
        self.proc: subprocess.Popen | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--no-scheduler"], cwd=self.env["CWD"],
                                     env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                async with http.get(f"http://127.0.0.1:{self.env['PORT']}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("pitchin serve did not come up:\n" + self.log.read_text())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class _Proxy:
    """Lets Stack's request helpers talk to a subprocess (and look into its database)."""

    def __init__(self, port: int, settings, db: Database):
        self.port, self.settings, self.db = port, settings, db


@pytest.fixture
async def world(tmp_path):
    slack = FakeSlackApi()
    await slack.start()
    smtp = SmtpSink()
    smtp.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PITCHIN_", "SMTP_", "IMAP_"))}
    env.update({
        "CWD": str(tmp_path), "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'pitchin.db'}",
        "HOST": "127.0.0.1", "PORT": str(port), "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url, "PITCHIN_SUPPORT_CHANNEL": CHANNEL, "SMTP_URL": smtp.url,
        "PITCHIN_FROM_EMAIL": "support@acme.test", "PITCHIN_INTAKE_TOKEN": TOKEN, "PITCHIN_UNDO_SECONDS": "1",
    })
    http = aiohttp.ClientSession()
    proc = ServeProcess(env, tmp_path / "serve.log")
    db = Database(env["DATABASE_URL"])
    stack = Stack(_Proxy(port, None, db), slack, smtp, http)
    yield stack, proc
    proc.stop()
    db.dispose()
    await http.close()
    smtp.stop()
    await slack.stop()


async def _outbox_empty(stack: Stack, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with stack.http.get(f"{stack.base}/healthz") as resp:
            if (await resp.json())["outbox_pending"] == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not empty")


async def test_smtp_down_then_up_delivers_once_with_warning_then_check(world):
    stack, proc = world
    await proc.start(stack.http)
    stack.smtp.stop()
    await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]
    _, ann_ts = await stack.say_in_thread("UANN", "Refund on its way.", root_ts)
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "warning" and c.args["timestamp"] == ann_ts)
    explained = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts
                                           and "not been delivered" in c.args.get("text", ""))
    assert "carol@example.com" in explained[0].args["text"]

    stack.smtp.start()  # same port: the retry goes through
    (mail,) = await stack.smtp.wait_for(1, timeout=30)
    assert "Refund on its way." in mail.text
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "white_check_mark")
    await stack.slack.wait_for("reactions.remove", where=lambda c: c.args["name"] == "warning")
    await _outbox_empty(stack)
    assert len(stack.smtp.messages) == 1


@pytest.mark.parametrize("moment", ["in the undo window", "after a failed attempt"])
async def test_sigkill_between_accepting_and_delivering_loses_nothing(world, moment):
    stack, proc = world
    await proc.start(stack.http)
    if moment == "after a failed attempt":
        stack.smtp.stop()
    await stack.post_email(raw_mail())
    root_ts = (await stack.ticket_post()).response["ts"]
    _, ann_ts = await stack.say_in_thread("UANN", "Answer that must survive.", root_ts)
    await stack.slack.wait_for("chat.postEphemeral")  # the reply was accepted
    if moment == "after a failed attempt":
        await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "warning")
    proc.kill()
    assert stack.smtp.messages == []

    if not stack.smtp.running:
        stack.smtp.start()
    await proc.start(stack.http)
    (mail,) = await stack.smtp.wait_for(1, timeout=30)
    assert "Answer that must survive." in mail.text and mail["In-Reply-To"] == "<m1@mail.example.com>"
    # a job the killed process had under way waits for its lease (15 s) to run out, then runs
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "white_check_mark"
                               and c.args["timestamp"] == ann_ts, timeout=40)
    await _outbox_empty(stack, timeout=40)
    assert len(stack.smtp.messages) == 1
    # the ticket was posted once, across the restart
    assert len([c for c in stack.slack.calls_to("chat.postMessage") if c.ok and not c.args.get("thread_ts")]) == 1


async def test_sigkill_before_a_channel_post_and_a_dm_go_out_loses_and_doubles_nothing(world):
    stack, proc = world
    await proc.start(stack.http)
    stack.slack.set_down(True)
    ctx = Context(db=stack.pitchin.db)  # what a scheduled job does: queue in its own transaction
    with ctx.db.transaction() as s:
        ann = repos.person_for(s, Actor("slack", "UANN", "Ann"))
        outbound.post_to_channel(ctx, s, "slack", "CGENERAL", "Ann is on support duty today.")
        outbound.post_to_person(ctx, s, ann.id, "You are on support duty today.")
    for where in ("CGENERAL", "UANN"):  # tried, and Slack was down
        await stack.slack.wait_for("chat.postMessage", where=lambda c, w=where: c.status == 503 and c.args["channel"] == w)
    proc.kill()

    stack.slack.set_down(False)
    await proc.start(stack.http)
    await _outbox_empty(stack, timeout=40)
    delivered = [(c.args["channel"], c.args["text"]) for c in stack.slack.calls_to("chat.postMessage") if c.ok]
    assert sorted(delivered) == [("CGENERAL", "Ann is on support duty today."), ("UANN", "You are on support duty today.")]


def _mail_processes_of(folder: str) -> list[int]:
    """The fork server and mail readers a Pitchin started in ``folder`` left running (their command
    line carries the sys.path, which begins with the server's working directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if "forkserver" in cmdline and folder in cmdline:
            found.append(int(entry.name))
    return found


async def test_a_killed_server_leaves_no_mail_reader_processes_behind(world):
    stack, proc = world
    await proc.start(stack.http)
    await stack.post_email(raw_mail())  # the mail is read in the reader's worker processes
    await stack.ticket_post()
    folder = proc.env["CWD"]
    assert _mail_processes_of(folder), "the mail reader's processes were not found"
    proc.kill()
    deadline = time.monotonic() + 20
    while _mail_processes_of(folder):
        assert time.monotonic() < deadline, f"left behind: {_mail_processes_of(folder)}"
        await asyncio.sleep(0.1)
