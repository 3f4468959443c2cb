"""The weekly briefings by the clock: each department's goes out once a week, at its weekday and
time in its zone (handlers.departments.due_at), whichever process runs the scheduler.

One scheduler job (bot/scheduler.py, every ROUND_SECONDS on the leader) calls ``tick``: it reads
the departments, works out which briefing is due (pure), and sends each in a transaction of its own
with ``run_once`` keyed "<department id>:<local date of the briefing day>": its outbox posts commit
with the record, so a restart or a second worker never sends it twice. One missed while no process
ran goes out when one starts, the same local day; the next day it is not due any more (a week-old
briefing a day late is news nobody asked for).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_

from handlers.briefings import send_weekly, weekly
from handlers.context import Context
from handlers.departments import due_at
from handlers.scheduled import run_once
from storage.models import Department, ScheduledRun

log = logging.getLogger("pitchin.briefings")

ROUND_SECONDS = 30  # how often the scheduler looks (a round reads the departments table)
JOB = "briefing"  # run_once job name; key "<department id>:<local date>"


@dataclass(frozen=True)
class Due:
    department_id: int
    key: str
    at: datetime  # when it came due (aware, the department's zone)


def briefings_due(departments: list[Department], now: datetime) -> list[Due]:
    due = []
    for dept in departments:
        at = due_at(dept, now)
        if at is not None:
            due.append(Due(dept.id, f"{dept.id}:{at.date().isoformat()}", at))
    return due


def tick(ctx: Context, owner: str = "") -> int:
    """Send the briefings due now and not sent; the number sent. Blocking (a worker thread)."""
    now = ctx.now()
    with ctx.db.transaction(read_only=True) as session:
        due = briefings_due(list(session.execute(select(Department)).scalars()), now)
        done = set()
        if due:
            done = set(session.execute(select(ScheduledRun.period_key).where(
                tuple_(ScheduledRun.job, ScheduledRun.period_key).in_([(JOB, d.key) for d in due]))).scalars())
    sent = 0
    for item in due:
        if item.key in done:
            continue
        try:
            # composed before the writing transaction: a language model's labels take seconds, and the
            # write lock (SQLite's) must not wait on them; composing twice in two workers is harmless
            with ctx.db.transaction(read_only=True) as session:
                b = weekly(ctx, session, item.department_id, item.at)
            if b is None:
                continue
            if run_once(ctx, JOB, item.key, lambda session, b=b, item=item: send_weekly(ctx, session,
                                                                                       item.department_id, b), owner):
                sent += 1
                log.info("weekly briefing %s sent", item.key)
        except Exception:  # one department's failure must not hold back the others; tried next round
            log.exception("weekly briefing %s could not be sent; trying again in %s s", item.key, ROUND_SECONDS)
    return sent
