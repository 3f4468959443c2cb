"""What both benchmarks share: the app in its own process, the fakes in this one, a fresh database.

Process layout (the same for every benchmark here):

* the app under test (``python -m bot serve``, or the bare Bolt baseline ``bench/_bare_bolt.py``)
  runs in a subprocess with its own event loop and its own GIL, configured only through the
  documented environment variables, as in production;
* this process runs the load generator (aiohttp client), the fake Slack Web API
  (``tests/fakes/slack_api.py``) and the SMTP sink (``tests/fakes/smtp.py``) on 127.0.0.1.

On a 2-core machine the app gets about one core and the load generator plus fakes the other;
PostgreSQL, when used, competes with both.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.config import ENV_NAMES  # noqa: E402

SECRET = "bench-signing-secret"
INTAKE_TOKEN = "bench-intake-token"
CHANNEL = "CSUPPORT"
BOT_TOKEN = "xoxb-bench"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = (len(data) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any Pitchin setting, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if k not in set(ENV_NAMES.values())}
    env.update(values)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class AppProcess:
    """A server in a subprocess; ``start()`` returns once its port accepts connections."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path):
        self.name, self.argv, self.env, self.port, self.workdir = name, argv, env, port, workdir
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60) -> "AppProcess":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.workdir, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return self
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {self.port} within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            for _ in range(200):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.proc = None


def pitchin_process(database_url: str, slack_api_url: str, smtp_url: str, workdir: Path) -> AppProcess:
    """``python -m bot serve`` configured through its documented environment variables."""
    port = free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        HOST="127.0.0.1",
        PORT=str(port),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack_api_url,
        PITCHIN_SUPPORT_CHANNEL=CHANNEL,
        PITCHIN_INTAKE_TOKEN=INTAKE_TOKEN,
        SMTP_URL=smtp_url,
        PITCHIN_FROM_EMAIL="support@acme.test",
    )
    return AppProcess("pitchin", [sys.executable, "-m", "bot", "serve"], env, port, workdir)


def bare_bolt_process(slack_api_url: str, action_id: str, workdir: Path) -> AppProcess:
    port = free_port()
    argv = [sys.executable, str(Path(__file__).with_name("_bare_bolt.py")), "--port", str(port),
            "--api-url", slack_api_url, "--secret", SECRET, "--token", BOT_TOKEN, "--action", action_id]
    return AppProcess("bare_bolt", argv, clean_env(), port, workdir)


class Database:
    """A fresh database for one run: a temp SQLite file, or a PostgreSQL schema dropped afterwards."""

    def __init__(self, kind: str, pg_url: str, workdir: Path):
        self.kind, self.pg_url, self.workdir = kind, pg_url, workdir
        self.schema: str | None = None

    def __enter__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / 'pitchin.db'}"
        from sqlalchemy import create_engine, text

        self.schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()
        sep = "&" if "?" in self.pg_url else "?"
        return f"{self.pg_url}{sep}options=-csearch_path%3D{self.schema}"

    def __exit__(self, *exc) -> None:
        if self.schema is None:
            return
        from sqlalchemy import create_engine, text

        admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        admin.dispose()


def workdir(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=prefix)


class TicketPosts:
    """Counts ticket root posts (chat.postMessage to the support channel, no thread_ts) as the fake
    answers them, with the time each was answered and the ``ts`` it got."""

    def __init__(self, fake, channel: str = CHANNEL):
        self.times: list[float] = []
        self.roots: list[dict] = []  # the posted message, including blocks and ts
        self._changed = asyncio.Event()
        original = fake._api_chat_postMessage

        def counted(args):
            answer = original(args)
            if args.get("channel") == channel and not args.get("thread_ts") and answer.get("ok"):
                self.times.append(time.perf_counter())
                self.roots.append(answer["message"])
                self._changed.set()
            return answer

        fake._api_chat_postMessage = counted  # the fake looks handlers up on the instance

    @property
    def count(self) -> int:
        return len(self.times)

    async def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while self.count < count:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.1))
            except asyncio.TimeoutError:
                pass
        return True


def ticket_id_of(message: dict) -> int | None:
    """The ticket number on a posted card (the value of its Claim button)."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("action_id") == "ticket.claim":
                return int(element["value"])
    return None


def bench_mail(i: int, run: str) -> bytes:
    from tests.stack import raw_mail

    return raw_mail(
        subject=f"Invoice question {i}",
        body=("Hello, I was charged twice for my subscription this month (order "
              f"{100000 + i}). Could you refund the second charge? Thanks, Customer {i}"),
        sender=f"Customer {i} <customer{i}@example.com>",
        message_id=f"<bench-{run}-{i}@mail.example.com>",
    )
