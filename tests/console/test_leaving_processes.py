"""The real `pitchin console` command next to a real `pitchin worker` process on one SQLite file;
and the command's background warnings kept out of the terminal, and Ctrl-C with a reply waiting."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxJob
from tests.console.test_console import CAROL, TOKEN, Process, free_port, open_console, close_console, until

pytestmark = [pytest.mark.timeout(150), pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]


def clean_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "PITCHIN_", "SMTP_", "IMAP_", "MICROSOFT_", "OPENAI_", "DATABASE_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'pitchin.db'}", PITCHIN_MAILDIR=str(tmp_path / "mail"),
               PYTHONUNBUFFERED="1", **extra)
    return env


async def console_command(tmp_path: Path, **extra: str) -> tuple[Process, int]:
    port = free_port()
    env = clean_env(tmp_path, HOST="127.0.0.1", PORT=str(port), PITCHIN_INTAKE_TOKEN=TOKEN, **extra)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return Process(proc), port


async def post(port: int, payload: dict) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{port}/intake/messages", data=json.dumps(payload),
                             headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as r:
            assert r.status == 202, await r.text()


def jobs(tmp_path: Path) -> list[OutboxJob]:
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    try:
        with db.transaction(read_only=True) as session:
            return [j for (j,) in session.execute(select(OutboxJob).order_by(OutboxJob.id)).all()]
    finally:
        db.dispose()


async def test_delivery_warnings_go_to_the_log_file_and_ctrl_c_keeps_a_waiting_reply(tmp_path):
    closed = free_port()  # nothing listens there: every delivery attempt fails and is retried
    p, port = await console_command(tmp_path, SMTP_URL=f"smtp://127.0.0.1:{closed}",
                                     PITCHIN_FROM_EMAIL="support@acme.test", PITCHIN_UNDO_SECONDS="0.2")
    try:
        await p.wait_for("quit` to leave")
        await p.wait_for(str(tmp_path / "pitchin-console.log"))
        await post(port, CAROL)
        await p.wait_for("└─ claim 1")
        await p.type("reply 1 We refunded the second charge.")
        await p.wait_for("⚠️ not delivered yet")  # shown in the ticket's thread, as every failure is
        log = tmp_path / "pitchin-console.log"
        await until(lambda: log.exists() and "attempt 1 failed" in log.read_text(), "the retry logged to the file")
        mark = len(p.text)
        # the second reply waits behind the first (one customer's replies go out in order): untried yet
        await p.type("reply 1 And a voucher for your trouble.")
        await p.wait_for("take it back", since=mark)
        p.proc.send_signal(signal.SIGINT)  # Ctrl-C: nothing is asked, the waiting reply is kept, and said so
        await p.wait_for("Kept: the reply to carol@example.com goes out at the next start", since=mark)
        rc = await p.finish()
    finally:
        if p.proc.returncode is None:
            p.proc.kill()
            await p.proc.wait()
    assert rc == 0, p.explain()
    err = p.err.decode(errors="replace")
    assert "attempt 1 failed" not in err and "retrying" not in err and "Traceback" not in err, p.explain()
    assert "retrying" not in p.text
    assert p.text.rstrip().endswith("Bye."), p.explain()


class WorkerProcess:
    def __init__(self, tmp_path: Path):
        self.log = tmp_path / "worker.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "worker"], cwd=tmp_path, env=clean_env(tmp_path),
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def test_a_worker_process_and_the_console_on_one_file(tmp_path):
    worker = WorkerProcess(tmp_path)
    term = None
    try:
        await until(lambda: "this process runs the scheduler" in worker.text() or worker.proc.poll() is not None,
                    lambda: f"the worker leading:\n{worker.text()}", timeout=60)
        assert worker.proc.poll() is None, worker.text()
        term = await open_console(tmp_path)
        assert f"A Pitchin server is using this database too (process {worker.proc.pid} on " in term.text
        assert "its tickets do not show here" in term.text
        await term.post_message(CAROL)
        await term.wait_for("└─ claim 1")
        await term.type("claim 1", "#1 is now claimed by ann")
        done = await until(lambda: j if (j := [x for x in jobs(tmp_path) if x.payload.get("platform") == "console"])
                           and all(x.state == "done" for x in j) else None, "the console's jobs done")
        # every one taken by this (the console's) process at the first attempt, none by the worker
        assert all(f":{os.getpid()}:" in j.lease_owner and j.attempts == 1 for j in done), done
        assert f":{worker.proc.pid}:" not in "".join(j.lease_owner for j in done)
        assert "console is not configured" not in worker.text()
    finally:
        if term is not None:
            await close_console(term)
        worker.stop()
