"""Two real `pitchin worker` processes on PostgreSQL agree on who runs the scheduler, and each
period of a job runs once: the leader's database connection terminated, the leader frozen.

Each worker runs a heartbeat job every 2 s (`--heartbeat-seconds`, a hidden option): its runs are
recorded by period key in scheduled_run, and each process logs every run it made."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

from storage.db import Database
from storage.models import ScheduledRun

ROOT = Path(__file__).resolve().parents[1]
EVERY = 2  # seconds between heartbeat periods
LEADS = "this process runs the scheduler"
STEPS_DOWN = "this process no longer runs the scheduler"
RAN = re.compile(r"scheduled job heartbeat ran for the period (\S+)")

pytestmark = pytest.mark.timeout(180)


class WorkerProcess:
    def __init__(self, name: str, env: dict, cwd: Path):
        self.name, self.env, self.cwd = name, env, cwd
        self.log = cwd / f"worker-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "worker", "--heartbeat-seconds", str(EVERY)],
                                     cwd=self.cwd, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def lines(self, containing: str) -> list[str]:
        return [line for line in self.text().splitlines() if containing in line]

    def periods_ran(self) -> list[str]:
        return RAN.findall(self.text())

    async def wait_for(self, containing: str, count: int = 1, timeout: float = 60) -> float:
        """Wait until the log has ``count`` lines with ``containing``; the seconds it took."""
        started = time.monotonic()
        while len(self.lines(containing)) < count:
            assert self.proc.poll() is None, f"worker {self.name} exited:\n{self.text()}"
            assert time.monotonic() - started < timeout, \
                f"worker {self.name} never logged {containing!r} ({count}×) within {timeout} s:\n{self.text()}"
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def workers(pg_url, tmp_path):
    Database(pg_url).upgrade()  # once, before two processes start on the same schema
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PITCHIN_", "SMTP_", "IMAP_",
                                                                        "MICROSOFT_", "OPENAI_"))}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": pg_url, "PITCHIN_MAILDIR": str(tmp_path / "maildir")})
    pair = WorkerProcess("a", env, tmp_path), WorkerProcess("b", env, tmp_path)
    yield pair
    for worker in pair:
        worker.stop()


def heartbeat_runs(pg_url: str) -> list[ScheduledRun]:
    db = Database(pg_url)
    try:
        with db.transaction(read_only=True) as session:
            return [r for (r,) in session.execute(select(ScheduledRun).where(ScheduledRun.job == "heartbeat")
                                                  .order_by(ScheduledRun.period_key)).all()]
    finally:
        db.dispose()


def key_at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def missing_periods(keys: list[str]) -> list[str]:
    """The periods between the first and the last key that have no run."""
    times = [datetime.strptime(k, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) for k in keys]
    missing, moment = [], times[0]
    while moment < times[-1]:
        if moment not in times:
            missing.append(key_at(moment))
        moment += timedelta(seconds=EVERY)
    return missing


def assert_each_period_once(a: WorkerProcess, b: WorkerProcess, pg_url: str, may_miss: tuple[datetime, datetime]):
    """Every recorded period ran once, in one process; none is missing but while no one led."""
    recorded = heartbeat_runs(pg_url)
    keys = [r.period_key for r in recorded]
    executed = Counter(a.periods_ran() + b.periods_ran())
    assert sorted(executed) == keys, "the processes' logs and the database disagree on what ran"
    assert [k for k, n in executed.items() if n > 1] == []
    gap_from, gap_to = key_at(may_miss[0] - timedelta(seconds=EVERY)), key_at(may_miss[1])
    assert [k for k in missing_periods(keys) if not gap_from <= k <= gap_to] == []
    return recorded


def leadership(worker: WorkerProcess) -> list[tuple[str, str]]:
    """(time, event) of each time the worker started or stopped leading, from its log."""
    return [(line[:23], "leads" if LEADS in line else "stands by")
            for line in worker.text().splitlines() if LEADS in line or STEPS_DOWN in line]


def terminate_backends(pg_url: str, application_name: str) -> int:
    db = Database(pg_url)
    try:
        with db.engine.connect() as conn:
            return len(conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE application_name = :name"), {"name": application_name}).all())
    finally:
        db.dispose()


async def start_leader_and_stand_by(a: WorkerProcess, b: WorkerProcess) -> None:
    a.start()
    await a.wait_for(LEADS)
    b.start()
    await b.wait_for("stands by")
    await a.wait_for("ran for the period", count=3)


async def test_terminating_the_leaders_connection_leaves_one_leader_and_each_period_once(workers, pg_url):
    a, b = workers
    await start_leader_and_stand_by(a, b)
    before = len(a.periods_ran())

    # the old design's failure: this freed an advisory lock while the leader kept running jobs
    assert terminate_backends(pg_url, f"pitchin scheduler {a.pid}") == 1
    terminated = datetime.now(timezone.utc)
    runs_after = lambda: len(a.periods_ran()) + len(b.periods_ran()) - before  # noqa: E731
    deadline = time.monotonic() + 60
    while runs_after() < 5:  # the scheduler goes on, within a minute, in one process or the other
        assert time.monotonic() < deadline, f"no heartbeat after the termination:\n{a.text()}\n{b.text()}"
        await asyncio.sleep(0.1)
    a.stop()
    b.stop()

    recorded = assert_each_period_once(a, b, pg_url, may_miss=(terminated, terminated + timedelta(seconds=60)))
    # leadership never overlapped: the stand-by took over only if the leader had stepped down first
    events = sorted([(t, "a", e) for t, e in leadership(a)] + [(t, "b", e) for t, e in leadership(b)])
    leaders: set[str] = set()
    for moment, who, event in events:
        (leaders.add if event == "leads" else leaders.discard)(who)
        assert len(leaders) <= 1, f"two leaders at {moment}: {events}"
    assert {r.owner.split(":")[1] for r in recorded} <= {str(a.pid), str(b.pid)}


async def test_a_frozen_leader_is_replaced_within_a_minute_and_runs_nothing_when_it_wakes(workers, pg_url):
    a, b = workers
    await start_leader_and_stand_by(a, b)

    a.proc.send_signal(signal.SIGSTOP)  # frozen: its connection stays open, it renews nothing
    frozen = datetime.now(timezone.utc)
    took_over = await b.wait_for(LEADS, timeout=60)
    await b.wait_for("ran for the period", count=2)
    ran_before_waking = set(a.periods_ran())

    a.proc.send_signal(signal.SIGCONT)
    await a.wait_for(STEPS_DOWN, timeout=30)
    await b.wait_for("ran for the period", count=len(b.periods_ran()) + 2)  # two more periods, b still leads
    a.stop()
    b.stop()

    assert set(a.periods_ran()) == ran_before_waking, "the woken leader ran a job after its lease ran out"
    recorded = assert_each_period_once(a, b, pg_url, may_miss=(frozen, frozen + timedelta(seconds=took_over + 1)))
    owners = [r.owner.split(":")[1] for r in recorded]
    first_b = owners.index(str(b.pid))
    assert set(owners[:first_b]) == {str(a.pid)} and set(owners[first_b:]) == {str(b.pid)}
    print(f"the stand-by took over {took_over:.1f} s after the leader froze")
