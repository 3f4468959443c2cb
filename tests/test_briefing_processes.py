"""Two real `pitchin worker` processes on PostgreSQL send each department's weekly briefing once:
both start at the same moment, then the leader is killed and the other takes over; the new leader
sends the briefing of a department added after that, and none of the earlier ones again.

The processes run on the real clock: each department's zone is one where it is about noon now, its
briefing due at 06:00 today there (so due, whenever the test runs)."""

from __future__ import annotations

import re
import signal
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import Department, OutboxJob, ScheduledRun
from tests.handlers.briefing_helpers import CARDS, REFUNDS, background, people, seed
from tests.handlers.rotation_helpers import person
from tests.test_rotation_processes import noon_zone, until
from tests.test_scheduler_processes import LEADS, workers  # noqa: F401 (a fixture)

SENT = re.compile(r"weekly briefing (\S+) sent")

pytestmark = pytest.mark.timeout(180)


def department(db: Database, name: str, managers: list[int]) -> int:
    now = datetime.now(timezone.utc)
    zone, today = noon_zone(now)
    with db.transaction() as s:
        dept = Department(name=name, platform="slack", channel_id=f"C{name.upper()}", managers=managers,
                          weekday=today.weekday(), at_time="06:00", tz=zone, created_at=now - timedelta(days=1))
        s.add(dept)
        s.flush()
        return dept.id


def keys(db: Database) -> list[str]:
    with db.transaction(read_only=True) as s:
        return list(s.execute(select(ScheduledRun.period_key).where(ScheduledRun.job == "briefing")).scalars())


def queued(db: Database) -> tuple[Counter, Counter]:
    """Briefings queued per channel, and per manager by DM."""
    with db.transaction(read_only=True) as s:
        jobs = list(s.execute(select(OutboxJob)).scalars())
    channels = Counter(j.payload["channel"] for j in jobs if j.kind == "chat.post" and "card" in j.payload)
    dms = Counter(j.payload["person_id"] for j in jobs if j.kind == "chat.direct")
    return channels, dms


async def test_two_workers_send_each_weekly_briefing_once_across_a_takeover(workers, pg_url):  # noqa: F811
    a, b = workers
    db = Database(pg_url)
    three_days_ago = datetime.now(timezone.utc) - timedelta(days=3)
    seed(db, people("refund", REFUNDS[:5], three_days_ago) + people("card", CARDS[:3], three_days_ago)
         + background(three_days_ago, 1))
    with db.transaction() as s:
        ann, bob = person(s, "slack", "UANN", "Ann"), person(s, "slack", "UBOB", "Bob")
    first = department(db, "Support", [ann])
    second = department(db, "Billing", [bob])

    a.start()
    b.start()  # at the same moment: both try to lead, both would send
    await until("both departments' briefings are sent",
                lambda: {k.split(":")[0] for k in keys(db)} == {str(first), str(second)})
    leader, other = (a, b) if a.lines(LEADS) else (b, a)
    leader.proc.send_signal(signal.SIGKILL)  # no goodbye: its lease has to run out
    leader.proc.wait(10)
    await other.wait_for(LEADS, timeout=60)

    third = department(db, "Sales", [ann, bob])  # the new leader's rounds find it at once
    await until("the new leader sends the third department's briefing",
                lambda: str(third) in {k.split(":")[0] for k in keys(db)})
    await other.wait_for(f"weekly briefing {third}:", timeout=30)
    other.stop()

    sent = Counter(SENT.findall(a.text()) + SENT.findall(b.text()))
    assert sent and all(n == 1 for n in sent.values()), sent
    assert set(sent) <= set(keys(db)) and len(keys(db)) == 3
    channels, dms = queued(db)
    assert channels == {"CSUPPORT": 1, "CBILLING": 1, "CSALES": 1}
    assert dms == {ann: 2, bob: 2}  # Support's and Sales' to Ann; Billing's and Sales' to Bob
    db.dispose()
