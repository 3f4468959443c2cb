"""Two real `pitchin worker` processes on PostgreSQL send the daily digest once: both start at the same
moment, then the leader is killed and the other takes over; after the digest is moved to a zone where
it is another day, the new leader sends that day's digest, and not the first one again."""

from __future__ import annotations

import re
import signal
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from handlers.digest import DigestSetting
from storage.db import Database
from storage.models import OutboxJob, ScheduledRun, Setting, Ticket, TicketMessage
from tests.test_rotation_processes import until
from tests.test_scheduler_processes import LEADS, workers  # noqa: F401 (a fixture)

SENT = re.compile(r"digest (\S+) sent to slack C-ALL: (\d+) conversation")

pytestmark = pytest.mark.timeout(180)


def zone_at(offset: int) -> str:
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def set_digest(db: Database, offset: int, at: str, now: datetime) -> str:
    """The digest in the zone ``offset`` hours from UTC, from today there; today's date there."""
    today = (now + timedelta(hours=offset)).date()
    value = asdict(DigestSetting(platform="slack", tenant="T1", channel="C-ALL", at=at, tz=zone_at(offset),
                                 set_by=None, first_day=today.isoformat()))
    with db.transaction() as s:
        row = s.get(Setting, "digest") or Setting(key="digest")
        row.value = value
        s.add(row)
    return today.isoformat()


def digest_keys(db: Database) -> list[str]:
    with db.transaction(read_only=True) as s:
        return sorted(s.execute(select(ScheduledRun.period_key).where(ScheduledRun.job == "digest")).scalars())


def digest_posts(db: Database) -> Counter:
    with db.transaction(read_only=True) as s:
        jobs = s.execute(select(OutboxJob).where(OutboxJob.kind == "chat.post")).scalars()
        return Counter((j.payload["channel"], j.payload["card"]["title"]) for j in jobs if j.payload.get("card"))


async def test_two_workers_send_the_digest_once_across_a_takeover(workers, pg_url):  # noqa: F811
    a, b = workers
    db = Database(pg_url)
    now = datetime.now(timezone.utc)
    # on the hour: the second zone's midnight falls on an hour boundary of UTC, and a conversation at
    # hh:55 would have its reply five minutes later on the next local day
    yesterday = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    with db.transaction() as s:
        ticket = Ticket(subject="Parcel", customer_email="carol@example.com", customer_name="Carol Smith",
                        created_at=yesterday)
        s.add(ticket)
        s.flush()
        s.add(TicketMessage(ticket_id=ticket.id, kind="customer", text="Where is my parcel?", created_at=yesterday))
        s.add(TicketMessage(ticket_id=ticket.id, kind="reply", text="On its way.", delivery_state="sent",
                            created_at=yesterday + timedelta(minutes=5)))
    noon = 12 - now.hour  # a zone where it is about noon: the digest at 06:00 there is due
    first = set_digest(db, noon, "06:00", now)

    a.start()
    b.start()  # at the same moment: both try to lead, both would send
    await until("the digest is sent", lambda: digest_keys(db) == [first])
    leader, other = (a, b) if a.lines(LEADS) else (b, a)
    leader.proc.send_signal(signal.SIGKILL)  # no goodbye: its lease has to run out
    leader.proc.wait(10)
    await other.wait_for(LEADS, timeout=60)

    # moved to a zone where it is another day (01:00 tomorrow, or 23:00 yesterday): that day's is due
    later = noon + 13 <= 14
    second = set_digest(db, noon + 13 if later else noon - 13, "00:00" if later else "22:00", now)
    await until("the new leader sends the other day's digest", lambda: len(digest_keys(db)) == 2)
    await other.wait_for(f"digest {second} sent", timeout=60)
    other.stop()

    sent = Counter(key for key, _ in SENT.findall(a.text() + b.text()))
    assert sent == {first: 1, second: 1} or sent == {second: 1}, sent  # a killed process may not have said it
    assert digest_keys(db) == sorted([first, second])
    # one post each, in the same transaction as the record of its run; both show yesterday's conversation
    posts = digest_posts(db)
    assert sorted(posts.values()) == [1, 1] and all(channel == "C-ALL" for channel, _ in posts), posts
    db.dispose()
