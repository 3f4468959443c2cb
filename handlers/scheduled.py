"""Scheduled work that happens once per period, whichever process runs it.

    def remind(ctx, session, period):            # period.key == "2026-11-30T09:00:00Z"
        repos.enqueue(session, "post", {...})    # out through the outbox, in the run's transaction

    scheduler.every("rotation-reminders", remind, cron="0 9 * * mon-fri", timezone="Europe/Paris")

A period is named by the moment it starts, in UTC. ``run_once`` records the (job, period) pair in
the same transaction as the job's own writes: if the pair is there, the job is skipped; if the job
fails, neither its writes nor the pair are kept. So a period runs once even when, for a moment, two
processes both believe they lead the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlmodel import Session

from handlers.context import Context
from storage import repos


@dataclass(frozen=True)
class Period:
    """One occurrence of a scheduled job: the job's id and when the occurrence is due."""

    job: str
    start: datetime

    @property
    def key(self) -> str:
        return period_key(self.start)


def period_key(start: datetime) -> str:
    return start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_once(ctx: Context, job: str, period_key: str, fn: Callable[[Session], Any], owner: str = "") -> bool:
    """Run ``fn(session)`` for this (job, period) unless it has run: True when it ran now.

    Blocking (call it from a worker thread). ``fn`` does its writes, outbox posts included, in the
    session it is given; whatever it raises propagates, and nothing of the run is kept."""
    with ctx.db.transaction() as session:
        if not repos.claim_run(session, job, period_key, owner):
            return False
        fn(session)
        repos.finish_run(session, job, period_key)
    return True
