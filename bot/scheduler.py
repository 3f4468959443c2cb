"""APScheduler jobs, run by exactly one process at a time.

On PostgreSQL the process that holds an advisory lock is the leader; the others keep trying, so
when the leader dies another takes over. On SQLite there is one process, and it is the leader.
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("pitchin.scheduler")

LEADER_LOCK = 7163527  # pg_advisory_lock key: "the scheduler runs here"


class Scheduler:
    def __init__(self, pitchin):
        self.pitchin = pitchin
        self.aps = AsyncIOScheduler(timezone="UTC")
        self._lock_conn = None
        self._waiter: asyncio.Task | None = None

    def add_jobs(self) -> None:
        settings = self.pitchin.settings
        if settings.imap_url:
            from bot.inbox.imap import ImapPoller

            poller = ImapPoller(settings.imap_url, self.pitchin.ctx, reader=self.pitchin.mail_reader)
            self.aps.add_job(poller.poll, "interval", minutes=1, id="imap-poll", max_instances=1,
                             coalesce=True, next_run_time=_now())

    def _try_lead(self) -> bool:
        db = self.pitchin.db
        if not db.is_postgres:
            return True
        conn = db.engine.raw_connection()
        conn.detach()  # its own connection, never handed back to the pool while it holds the lock
        conn.dbapi_connection.autocommit = True  # not left "idle in transaction" for hours
        cur = conn.cursor()
        # keyed by schema too, so two Pitchin installations sharing one database do not block each other
        cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (LEADER_LOCK,))
        got = cur.fetchone()[0]
        cur.close()
        if got:
            self._lock_conn = conn  # the lock lives as long as this connection
            return True
        conn.close()
        return False

    async def start(self) -> None:
        if await asyncio.to_thread(self._try_lead):
            self._lead()
        else:
            log.info("another process runs the scheduler; this one stands by")
            self._waiter = asyncio.create_task(self._wait_for_lead())

    def _lead(self) -> None:
        self.add_jobs()
        self.aps.start()
        log.info("this process runs the scheduler")

    async def _wait_for_lead(self) -> None:
        while True:
            await asyncio.sleep(30)
            if await asyncio.to_thread(self._try_lead):
                self._lead()
                return

    async def stop(self) -> None:
        if self._waiter is not None:
            self._waiter.cancel()
        if self.aps.running:
            self.aps.shutdown(wait=False)
        if self._lock_conn is not None:
            self._lock_conn.close()
            self._lock_conn = None


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


async def start_scheduler(pitchin) -> Scheduler:
    scheduler = Scheduler(pitchin)
    await scheduler.start()
    return scheduler
