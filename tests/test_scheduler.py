"""The scheduler: one leader at a time (a lease row), each period of a job run once, IMAP polling.

Two real `pitchin worker` processes on PostgreSQL are in tests/test_scheduler_processes.py."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, text, update

from bot.app import Pitchin
from bot.lease import Lease
from bot.scheduler import EPOCH, Scheduler, latest_start
from handlers.context import Context
from handlers.scheduled import run_once
from storage import repos
from storage.db import Database
from storage.models import ScheduledRun, SchedulerLease
from tests.fakes.imap import DOVECOT_MISSING, DovecotServer, dovecot_available
from tests.stack import raw_mail, settings_for, start_stack, stop_stack

FAST = dict(seconds=3.0, margin=1.0)  # a lease of 3 s, trusted for 2 s after each renewal


async def until(predicate, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.02)


def runs(db: Database, job: str) -> list[ScheduledRun]:
    with db.transaction(read_only=True) as session:
        return [r for (r,) in session.execute(select(ScheduledRun).where(ScheduledRun.job == job)
                                              .order_by(ScheduledRun.period_key)).all()]


class Ticks:
    """A job that remembers the periods it ran for, and queues an outbox post in its transaction."""

    def __init__(self):
        self.keys: list[str] = []

    def __call__(self, ctx, session, period):
        repos.enqueue(session, "post", {"text": f"tick {period.key}"})
        self.keys.append(period.key)


# ---------------------------------------------------------------- run_once


def test_run_once_runs_each_period_once_with_its_writes(ctx):
    calls = []

    def digest(session):
        calls.append(1)
        repos.enqueue(session, "post", {"text": "five answered conversations"})

    assert run_once(ctx, "digest", "2026-11-30T09:00:00Z", digest, owner="worker-a")
    assert not run_once(ctx, "digest", "2026-11-30T09:00:00Z", digest, owner="worker-b")
    assert run_once(ctx, "digest", "2026-12-01T09:00:00Z", digest)
    assert run_once(ctx, "briefing", "2026-11-30T09:00:00Z", digest)  # another job, the same period
    assert len(calls) == 3
    with ctx.db.transaction(read_only=True) as session:
        assert repos.pending_jobs(session) == 3  # one post per run, not one per attempt
    (first, _) = runs(ctx.db, "digest")
    assert first.owner == "worker-a" and first.finished_at is not None


def test_a_failed_run_keeps_neither_its_writes_nor_its_record(ctx):
    def failing(session):
        repos.enqueue(session, "post", {"text": "half a briefing"})
        raise RuntimeError("the briefing could not be built")

    with pytest.raises(RuntimeError):
        run_once(ctx, "briefing", "2026-11-30T09:00:00Z", failing)
    with ctx.db.transaction(read_only=True) as session:
        assert repos.pending_jobs(session) == 0
    assert runs(ctx.db, "briefing") == []
    assert run_once(ctx, "briefing", "2026-11-30T09:00:00Z", lambda session: None)  # free to run again


def test_two_leaders_running_the_same_period_at_once_run_it_once(pg_url):
    """The moment two processes both believe they lead: the second waits on the first's record and
    skips the period once the first commits."""
    db = Database(pg_url)
    db.upgrade()
    ctx = Context(db=db)
    inside, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow(session):
        ran.append("first")
        inside.set()
        assert release.wait(10)

    first = threading.Thread(target=lambda: run_once(ctx, "digest", "2026-11-30T09:00:00Z", slow, owner="a"))
    first.start()
    assert inside.wait(10)
    second_result = []
    second = threading.Thread(target=lambda: second_result.append(
        run_once(ctx, "digest", "2026-11-30T09:00:00Z", lambda s: ran.append("second"), owner="b")))
    second.start()
    try:
        deadline = time.monotonic() + 10
        with db.engine.connect() as conn:  # the second is waiting on the first's uncommitted record
            while not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND query LIKE '%scheduled_run%'")).scalar_one():
                assert time.monotonic() < deadline, "the second run never waited for the first"
                conn.rollback()  # pg_stat_activity is a snapshot per transaction: look again in a new one
                time.sleep(0.02)
    finally:
        release.set()
        first.join(10)
        second.join(10)
    assert ran == ["first"] and second_result == [False]
    assert [r.owner for r in runs(db, "digest")] == ["a"]
    db.dispose()


# ---------------------------------------------------------------- periods


def test_a_run_a_little_late_keeps_its_periods_key():
    every_5s = IntervalTrigger(seconds=5, start_date=EPOCH, timezone=timezone.utc)
    at = datetime(2026, 11, 30, 9, 0, 0, tzinfo=timezone.utc)
    assert latest_start(every_5s, at + timedelta(seconds=1.2), timedelta(seconds=5)) == at
    assert latest_start(every_5s, at, timedelta(seconds=5)) == at
    weekdays_at_9 = CronTrigger.from_crontab("0 9 * * mon-fri", timezone="Europe/Paris")
    monday_9_paris = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    assert latest_start(weekdays_at_9, monday_9_paris + timedelta(minutes=20), timedelta(hours=1)) == monday_9_paris
    # two hours late is past the grace: that period is not run any more
    assert latest_start(weekdays_at_9, monday_9_paris + timedelta(hours=2), timedelta(hours=1)) is None


# ---------------------------------------------------------------- the leader


def scheduler_on(db: Database, job=None, renew_seconds: float = 0.2, **lease) -> Scheduler:
    scheduler = Scheduler(Context(db=db), Lease(db, **{**FAST, **lease}), renew_seconds=renew_seconds)
    if job is not None:
        scheduler.every("tick", job, seconds=1)
    return scheduler


async def test_one_leader_runs_each_period_once_and_a_stand_by_takes_over(sqlite_url):
    db = Database(sqlite_url)
    db.upgrade()
    ticks_a, ticks_b = Ticks(), Ticks()
    a, b = scheduler_on(db, ticks_a), scheduler_on(db, ticks_b)
    try:
        await a.start()
        await b.start()
        assert a.leading and not b.leading
        await until(lambda: len(ticks_a.keys) >= 3, "the leader ran three periods")
        await a.stop()  # a clean stop lets the lease go at once
        await until(lambda: b.leading, "the stand-by leads", timeout=5)
        await until(lambda: len(ticks_b.keys) >= 2, "the new leader ran two periods")
    finally:
        await a.stop()
        await b.stop()
    keys = [r.period_key for r in runs(db, "tick")]
    assert sorted(ticks_a.keys + ticks_b.keys) == keys  # each period once, by one of them
    assert len(set(keys)) == len(keys)
    assert not set(ticks_a.keys) & set(ticks_b.keys)
    db.dispose()


async def test_a_leader_whose_lease_is_taken_stops_running_jobs_at_once(sqlite_url, caplog):
    db = Database(sqlite_url)
    db.upgrade()
    ticks = Ticks()
    leader = scheduler_on(db, ticks)
    try:
        await leader.start()
        await until(lambda: len(ticks.keys) >= 2, "the leader ran two periods")
        with db.transaction() as session:  # another process takes the lease (as if it had run out)
            session.execute(update(SchedulerLease).values(owner="elsewhere:1:abc",
                                                          expires_at=datetime.now(timezone.utc) + timedelta(hours=1)))
        await until(lambda: not leader.leading, "the leader steps down", timeout=2)
        stepped_down = len(ticks.keys)
        passed = datetime.now(timezone.utc) + timedelta(seconds=2.5)  # two more periods come due
        await until(lambda: datetime.now(timezone.utc) > passed, "two periods passed")
        assert len(ticks.keys) == stepped_down
        assert "no longer runs the scheduler: another process holds the scheduler lease" in caplog.text
    finally:
        await leader.stop()
    db.dispose()


class FrozenClock:
    """A monotonic clock the test moves: the process "sleeps" through its lease."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def test_a_leader_that_wakes_after_its_lease_ran_out_runs_nothing(sqlite_url, caplog):
    db = Database(sqlite_url)
    db.upgrade()
    ticks, clock = Ticks(), FrozenClock()
    # renewals far apart: the next thing the woken leader does is a job's run, not a renewal
    leader = scheduler_on(db, ticks, renew_seconds=60, seconds=30.0, margin=5.0, monotonic=clock)
    try:
        await leader.start()
        await until(lambda: len(ticks.keys) >= 1, "the leader ran a period")
        ran = len(ticks.keys)
        clock.offset = 40.0  # frozen for 40 s (SIGSTOP, a long pause): its 30 s lease ran out meanwhile
        await until(lambda: not leader.leading, "the woken leader steps down", timeout=3)
        assert len(ticks.keys) == ran
        assert "lease ran out" in caplog.text
    finally:
        await leader.stop()
    db.dispose()


async def test_only_one_scheduler_leads_on_postgres(pg_url):
    settings = settings_for(pg_url, None, None)
    first, second = Pitchin(settings), Pitchin(settings, upgrade=False)
    a, b = Scheduler(first.ctx, Lease(first.db)), Scheduler(second.ctx, Lease(second.db))
    try:
        await a.start()
        await b.start()
        assert a.leading and not b.leading
        await a.stop()  # the leader goes away: the lease is free for the next one
        assert await asyncio.to_thread(b.lease.renew)
    finally:
        await a.stop()
        await b.stop()
        first.db.dispose()
        second.db.dispose()


# ---------------------------------------------------------------- IMAP


@pytest.mark.skipif(not dovecot_available(), reason=DOVECOT_MISSING)
async def test_serve_polls_the_imap_mailbox_and_posts_the_ticket(sqlite_url):
    with DovecotServer() as imap:
        imap.deliver(raw_mail(subject="Sent to the mailbox", message_id="<imap-1@mail.example.com>"))
        stack = await start_stack(sqlite_url, imap_url=imap.url())
        try:
            await stack.pitchin.stop()  # restart it with the scheduler on, as `pitchin serve` runs
            stack.pitchin = Pitchin(stack.pitchin.settings)
            await stack.pitchin.start(http=True, worker=True, scheduler=True)
            post = await stack.ticket_post(timeout=20)
            assert "Sent to the mailbox" in post.args["text"]
            assert imap.unseen() == []  # marked seen once stored
        finally:
            await stop_stack(stack)
