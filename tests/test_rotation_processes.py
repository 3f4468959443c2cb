"""Two real `pitchin worker` processes on PostgreSQL send each rotation reminder once: both start
at the same moment, then the leader is killed and the other takes over; the new leader sends the
reminders of a rotation created after that, and none of the earlier ones again."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxJob, ScheduledRun
from tests.handlers.rotation_helpers import make_rotation, person
from tests.test_scheduler_processes import LEADS, workers  # noqa: F401 (a fixture)

SENT = re.compile(r"rotation reminder (\S+) sent")

pytestmark = pytest.mark.timeout(180)


def noon_zone(now: datetime) -> tuple[str, date]:
    """A fixed-offset zone where it is about noon now (whenever the test runs), and today's date there:
    a shift from 06:00 to 18:00 there runs now."""
    offset = 12 - now.hour
    name = "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    return name, (now + timedelta(hours=offset)).date()


def running_rotation(db: Database, name: str, people: list[int]) -> int:
    zone, today = noon_zone(datetime.now(timezone.utc))
    return make_rotation(db, name, people, tz=zone, start=today, days="mon-sun", at="06:00", until="18:00")


def reminder_keys(db: Database) -> list[str]:
    with db.transaction(read_only=True) as s:
        return list(s.execute(select(ScheduledRun.period_key).where(ScheduledRun.job == "reminder")).scalars())


def dms(db: Database, containing: str) -> Counter:
    """How many DMs with these words were queued to each person."""
    with db.transaction(read_only=True) as s:
        jobs = s.execute(select(OutboxJob).where(OutboxJob.kind == "chat.direct")).scalars()
        return Counter(j.payload["person_id"] for j in jobs if containing in j.payload["text"])


async def until(what: str, check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        await asyncio.sleep(0.1)


async def test_two_workers_send_each_reminder_once_across_a_takeover(workers, pg_url):  # noqa: F811
    a, b = workers
    db = Database(pg_url)
    with db.transaction() as s:
        ann, bob, cem, dan, eva = (person(s, "slack", f"U{n}", n) for n in ("ANN", "BOB", "CEM", "DAN", "EVA"))
    first = running_rotation(db, "first", [ann, bob])
    second = running_rotation(db, "second", [cem, dan])

    a.start()
    b.start()  # at the same moment: both try to lead, both would send
    await until("both rotations' reminders are sent",
                lambda: {k.split(":")[0] for k in reminder_keys(db) if k.endswith(":on-duty")} == {str(first),
                                                                                                   str(second)})
    leader, other = (a, b) if a.lines(LEADS) else (b, a)
    leader.proc.send_signal(signal.SIGKILL)  # no goodbye: its lease has to run out
    leader.proc.wait(10)
    await other.wait_for(LEADS, timeout=60)

    third = running_rotation(db, "third", [eva])  # the new leader's rounds find it at once
    await until("the new leader sends the third rotation's reminder",
                lambda: f"{third}:" in " ".join(k for k in reminder_keys(db) if k.endswith(":on-duty")))
    # the round that sent it found the earlier reminders due as well, and sent none of them again
    await until("the new leader logs it and the heads-up for tomorrow",
                lambda: len([line for line in other.lines("rotation reminder") if f" {third}:" in line]) == 2)
    other.stop()

    # what each process says it sent (a killed one may have had no time to say the last), and what
    # the outbox holds: queued in the same transaction as the record of the reminder
    sent = Counter(SENT.findall(a.text()) + SENT.findall(b.text()))
    assert sent and all(n == 1 for n in sent.values()), sent
    assert set(sent) <= set(reminder_keys(db))
    assert dms(db, "on support today") == {ann: 1, cem: 1, eva: 1}  # the first in each order is on duty today
    assert dms(db, "Heads-up") == {bob: 1, dan: 1, eva: 1}  # and the second tomorrow
    db.dispose()
