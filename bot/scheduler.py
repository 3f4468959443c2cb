"""Scheduled jobs, run by one process at a time: the holder of the scheduler lease (bot/lease.py).

Every `pitchin worker` and `pitchin serve` process starts a Scheduler. Each tries to take the lease
every few seconds; the one that holds it runs APScheduler with the registered jobs, and the moment
its lease is taken or runs out it shuts APScheduler down (jobs under way are cancelled) and stands
by again. A stand-by takes over within about 20 seconds of the leader's last renewal.

Two kinds of job:

- ``every(job, fn, seconds=… | cron=…)``: ``fn(ctx, session, period)`` runs once per period
  whichever process leads (handlers.scheduled.run_once): its writes, and the posts it queues in the
  outbox, commit with the record of the run. Reminders, briefings and digests are of this kind.
- ``repeat(job, poll, seconds=…)``: a coroutine whose work is idempotent anyway (the IMAP poll:
  intake recognises a mail by its Message-ID; the rotations' round: each reminder and escalation
  is keyed with run_once; the message vectors: stored once per text and model), run by the leader
  only, one round at a time; ``run_soon(job)`` asks for a round now rather than at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from bot.lease import Lease
from handlers import briefing_jobs, digest_jobs, message_vectors, rotation_jobs, survey_send
from handlers.context import Context
from handlers.scheduled import Period, run_once
from storage import repos

log = logging.getLogger("pitchin.scheduler")

RENEW_SECONDS = 3.0  # the leader renews its lease, and stand-bys try to take it, this often
RUNS_KEPT = timedelta(days=30)
# interval periods start at multiples of the interval since the epoch: every process names them alike
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MESSAGE_VECTORS = "message-vectors"
# how often the leader looks for customer texts without a vector: intake asks for a round at once
# (ctx.texts_arrived), so this only matters for texts stored by another process than the leader
MESSAGE_VECTOR_SECONDS = 30


def _not_a_cancelled_job(record: logging.LogRecord) -> bool:
    """Stepping down cancels the jobs under way on purpose; APScheduler would log each as an error."""
    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


@dataclass(frozen=True)
class _Job:
    id: str
    trigger: BaseTrigger
    fn: Callable[..., Any]
    grace: timedelta  # how late a period may still run (after a takeover, say)
    keyed: bool  # once per period (every) or a plain poll (repeat)


class Scheduler:
    def __init__(self, ctx: Context, lease: Lease, renew_seconds: float = RENEW_SECONDS):
        self.ctx, self.lease, self.renew_seconds = ctx, lease, renew_seconds
        self._jobs: list[_Job] = []
        self.aps: AsyncIOScheduler | None = None  # running while, and only while, this process leads
        self._watcher: asyncio.Task | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[str] = set()  # repeat jobs with a round under way
        self._again: set[str] = set()  # repeat jobs asked for another round while one was under way
        logging.getLogger("apscheduler.executors.default").addFilter(_not_a_cancelled_job)  # added once

    @property
    def leading(self) -> bool:
        return self.aps is not None

    def every(self, job_id: str, fn: Callable[[Context, Any, Period], Any], *, seconds: float | None = None,
              cron: str | None = None, timezone_name: str = "UTC", grace: timedelta | None = None) -> None:
        """Run ``fn(ctx, session, period)`` once per period: every ``seconds`` (at least 1), or at the
        times of a crontab line (``"0 9 * * mon-fri"``) in ``timezone_name``. A period missed while no
        process led runs when a leader starts, if it began less than ``grace`` ago (default: one
        interval, or an hour for cron)."""
        if (seconds is None) == (cron is None):
            raise ValueError(f"scheduled job {job_id}: give either seconds or cron")
        if seconds is not None:
            if seconds < 1:  # period keys have a resolution of one second
                raise ValueError(f"scheduled job {job_id}: an interval of {seconds} s is shorter than 1 s")
            trigger = IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=timezone.utc)
            grace = grace or timedelta(seconds=seconds)
        else:
            trigger = CronTrigger.from_crontab(cron, timezone=timezone_name)
            grace = grace or timedelta(hours=1)
        self._add(_Job(job_id, trigger, fn, grace, keyed=True))

    def repeat(self, job_id: str, poll: Callable[[], Any], *, seconds: float) -> None:
        """Await ``poll()`` every ``seconds`` on the leader, first as soon as it leads."""
        self._add(_Job(job_id, IntervalTrigger(seconds=seconds, timezone=timezone.utc), poll,
                       timedelta(seconds=seconds), keyed=False))

    def _add(self, job: _Job) -> None:
        if any(j.id == job.id for j in self._jobs):
            raise ValueError(f"scheduled job {job.id} is registered twice")
        self._jobs.append(job)

    def run_soon(self, job_id: str) -> None:
        """A round of the repeat job ``job_id`` now rather than at its next interval, or right after
        the round under way; callable from any thread. Nothing when this process does not lead: the
        leader's next round does the work."""
        if not any(job.id == job_id and not job.keyed for job in self._jobs):
            raise ValueError(f"run_soon: {job_id} is not a repeat job of this scheduler")
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._run_soon, job_id)

    def _run_soon(self, job_id: str) -> None:
        if self.aps is None:
            return
        if job_id in self._running:
            self._again.add(job_id)
            return
        job = next(job for job in self._jobs if job.id == job_id)
        # however busy the loop is, it runs late rather than being dropped as missed
        self.aps.add_job(self._fire, "date", run_date=datetime.now(timezone.utc), args=[job], id=f"{job_id}:soon",
                         replace_existing=True, misfire_grace_time=None)

    async def start(self) -> None:
        """Try to lead now, then keep trying (or renewing) in the background."""
        self._loop = asyncio.get_running_loop()
        await self._renew()
        if not self.leading:
            log.info("another process runs the scheduler; this one stands by (%s)", self.lease.owner)
        self._watcher = asyncio.create_task(self._watch(), name="scheduler-lease")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.renew_seconds)
            try:
                await self._renew()
            except Exception:  # a bug must not end the renewals for good (the deadline still holds)
                log.exception("taking or renewing the scheduler lease failed; trying again in %g s", self.renew_seconds)

    async def _renew(self) -> None:
        try:
            held = await asyncio.to_thread(self.lease.renew)
        except SQLAlchemyError as exc:
            if self.leading:  # the deadline timer steps down if this goes on until the lease runs out
                log.warning("could not renew the scheduler lease (%.0f s left): %s", self.lease.seconds_left(),
                            str(exc).splitlines()[0])
            return
        if held:
            self._arm_deadline()
            if not self.leading:
                self._lead()
        elif self.leading:
            self._step_down("another process holds the scheduler lease")

    def _arm_deadline(self) -> None:
        """Step down the moment the lease runs out, even while a renewal hangs on a dead connection."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = asyncio.get_running_loop().call_later(self.lease.seconds_left(), self._on_deadline)

    def _on_deadline(self) -> None:
        if not self.lease.held():
            self._step_down("its scheduler lease ran out before it could renew it")

    def _lead(self) -> None:
        aps = AsyncIOScheduler(timezone=timezone.utc)
        now = datetime.now(timezone.utc)
        for job in self._jobs:
            # a repeat job's fire during its own long round is not skipped with a warning but folded
            # into that round (``_fire``): two instances may start, one round runs
            aps.add_job(self._fire, job.trigger, args=[job], id=job.id, max_instances=1 if job.keyed else 2,
                        coalesce=True,
                        misfire_grace_time=max(1, int(job.grace.total_seconds())))
            # at once too: a poll's first round, or the period that came due while nobody led
            aps.add_job(self._fire, "date", run_date=now, args=[job], id=f"{job.id}:on-lead")
        aps.start()
        self.aps = aps
        log.info("this process runs the scheduler (%s)", self.lease.owner)

    def _step_down(self, why: str | None) -> None:
        """Stop running jobs at once: APScheduler shut down, the jobs under way cancelled."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        aps, self.aps = self.aps, None
        self._again.clear()
        if aps is not None:
            aps.shutdown(wait=False)
            if why is not None:
                log.warning("this process no longer runs the scheduler: %s; it stands by", why)

    async def _fire(self, job: _Job) -> None:
        if not self.lease.held():  # checked before every run: a frozen leader wakes up to this
            # not from inside the job that shutting APScheduler down cancels
            asyncio.get_running_loop().call_soon(self._step_down, f"its scheduler lease ran out before {job.id} ran")
            return
        if not job.keyed:
            await self._rounds(job)
            return
        start = latest_start(job.trigger, datetime.now(timezone.utc), job.grace)
        if start is None:
            return
        period = Period(job.id, start)
        try:
            # in a thread on SQLite too: a job may work for a while, the event loop serves meanwhile
            ran = await asyncio.to_thread(run_once, self.ctx, job.id, period.key,
                                          lambda session: job.fn(self.ctx, session, period), self.lease.owner)
        except Exception:
            log.exception("scheduled job %s failed for the period %s; nothing of it was kept", job.id, period.key)
            return
        if ran:
            log.info("scheduled job %s ran for the period %s", job.id, period.key)

    async def _rounds(self, job: _Job) -> None:
        """Run a repeat job's round, and again while another was asked for meanwhile (one at a time)."""
        if job.id in self._running:
            self._again.add(job.id)
            return
        aps = self.aps
        self._running.add(job.id)
        try:
            while True:
                self._again.discard(job.id)
                await job.fn()
                if job.id not in self._again or self.aps is not aps:
                    return
        finally:
            self._running.discard(job.id)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            try:
                await self._watcher
            except asyncio.CancelledError:
                pass
            self._watcher = None
        was_leading = self.leading
        self._step_down(None)
        if was_leading:
            # said before the lease is released: a stand-by's "runs the scheduler" comes after it
            log.info("this process no longer runs the scheduler: it is stopping")
            try:
                await asyncio.to_thread(self.lease.release)
            except SQLAlchemyError:
                log.warning("could not release the scheduler lease; a stand-by takes over when it runs out")
        self.lease.close()


def latest_start(trigger: BaseTrigger, now: datetime, grace: timedelta) -> datetime | None:
    """The trigger's last fire time at or before ``now`` and not before ``now - grace``: the period
    a run belongs to, computed from the trigger, so a run a little late keeps its period's key."""
    fire = trigger.get_next_fire_time(None, now - grace)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


class MessageVectorRounds:
    """The message-vectors job: each round computes and stores the vectors of up to
    ``message_vectors.FILL_BATCH`` customer texts that lack one, in a thread; a full round asks for
    the next at once, so a history is filled batch after batch (and stepping down stops it between
    two). A failing model is logged and tried again next round; intake never waits for it."""

    def __init__(self, ctx: Context, scheduler: Scheduler, batch: int = message_vectors.FILL_BATCH):
        self.ctx, self.scheduler, self.batch = ctx, scheduler, batch
        self.failing = False  # the last round failed: its traceback is logged, the next ones' are not

    async def __call__(self) -> None:
        try:
            filled = await asyncio.to_thread(message_vectors.fill_missing, self.ctx, self.batch)
        except Exception as exc:
            log.warning("message vectors: could not compute them (%s: %s); the next round tries again in %d s",
                        type(exc).__name__, exc, MESSAGE_VECTOR_SECONDS, exc_info=not self.failing)
            self.failing = True
            return
        if self.failing:
            log.info("message vectors: the local model works again")
            self.failing = False
        if filled.more:
            self.scheduler.run_soon(MESSAGE_VECTORS)


def forget_old_runs(ctx: Context, session, period: Period) -> None:
    repos.prune_runs(session, period.start - RUNS_KEPT)


def heartbeat(ctx: Context, session, period: Period) -> None:
    """Does nothing but get recorded (and logged): `pitchin worker --heartbeat-seconds N` schedules
    it, to watch leadership and exactly-once runs across processes (the tests do)."""


async def start_scheduler(pitchin, heartbeat_seconds: float | None = None) -> Scheduler:
    scheduler = Scheduler(pitchin.ctx, Lease(pitchin.db))
    if pitchin.settings.imap_url:
        from bot.inbox.imap import ImapPoller

        poller = ImapPoller(pitchin.settings.imap_url, pitchin.ctx, reader=pitchin.mail_reader)
        scheduler.repeat("imap-poll", poller.poll, seconds=60)
    scheduler.every("forget-old-runs", forget_old_runs, cron="17 3 * * *")
    # reminders, heads-ups and escalations: each is keyed and sent once (handlers.scheduled.run_once),
    # so this only needs to look often enough; a round the leader missed is made up by the next
    scheduler.repeat("rotation-jobs", lambda: asyncio.to_thread(rotation_jobs.tick, pitchin.ctx, scheduler.lease.owner),
                     seconds=rotation_jobs.ROUND_SECONDS)
    # each department's weekly briefing, keyed per department and local day: sent once, and one
    # missed while no process ran goes out on the next round the same local day
    scheduler.repeat("weekly-briefings",
                     lambda: asyncio.to_thread(briefing_jobs.tick, pitchin.ctx, scheduler.lease.owner),
                     seconds=briefing_jobs.ROUND_SECONDS)
    # the daily digest: keyed by its local date, so a round that finds it sent does nothing
    scheduler.repeat("digest", lambda: asyncio.to_thread(digest_jobs.tick, pitchin.ctx, scheduler.lease.owner),
                     seconds=digest_jobs.ROUND_SECONDS)
    # satisfaction surveys: each ticket's is queued once (Survey.ticket_id is unique), so a round
    # that finds nothing due does nothing
    scheduler.repeat("surveys", lambda: asyncio.to_thread(survey_send.tick, pitchin.ctx, scheduler.lease.owner),
                     seconds=survey_send.ROUND_SECONDS)
    scheduler.repeat(MESSAGE_VECTORS, MessageVectorRounds(pitchin.ctx, scheduler), seconds=MESSAGE_VECTOR_SECONDS)
    pitchin.ctx.texts_arrived = lambda: scheduler.run_soon(MESSAGE_VECTORS)
    if heartbeat_seconds:
        scheduler.every("heartbeat", heartbeat, seconds=heartbeat_seconds)
    await scheduler.start()
    return scheduler
