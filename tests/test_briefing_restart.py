"""A Pitchin process stopped and started again around Monday's briefings: each department's goes
out once; one that came due while no process ran goes out when the next one starts that day; one
missed all Monday does not go out on Tuesday. Real processes' parts (scheduler, lease, delivery
worker) on one SQLite file; the clock is set by the test."""

from __future__ import annotations

from datetime import timedelta

from handlers import rotation_schedule
from storage.db import Database
from storage.models import Department
from tests.handlers.test_briefings import MONDAY, two_weeks
from tests.test_rotation_restart import run_process


def department(db, name: str, weekday: str, at: str) -> None:
    with db.transaction() as s:
        s.add(Department(name=name, platform="test", channel_id=f"C-{name.upper()}", weekday=
                         rotation_schedule.WEEKDAYS.index(weekday), at_time=at, tz="Europe/Berlin",
                         created_at=MONDAY - timedelta(days=4)))


def briefed(chat, name: str) -> list[str]:
    return [text for channel, text, _ in chat.channel_posts if channel == f"C-{name.upper()}"]


async def test_a_restart_sends_each_briefing_once_and_a_missed_one_the_same_day_only(sqlite_url, tmp_path):
    db = Database(sqlite_url)
    db.upgrade()
    two_weeks(db)
    department(db, "Support", "mon", "09:00")
    department(db, "Billing", "mon", "09:30")
    department(db, "Ops", "mon", "11:00")
    department(db, "Sales", "tue", "09:00")

    first = await run_process(sqlite_url, tmp_path, MONDAY + timedelta(seconds=30), lambda c: briefed(c, "Support"))
    # down at 09:30; started at 10:00: Billing's goes out now, Support's not again
    second = await run_process(sqlite_url, tmp_path, MONDAY + timedelta(hours=1), lambda c: briefed(c, "Billing"))
    # down from 10:30 until Tuesday 09:00: Ops' Monday briefing is not sent a day late; Sales' Tuesday one is
    third = await run_process(sqlite_url, tmp_path, MONDAY + timedelta(days=1, seconds=30),
                              lambda c: briefed(c, "Sales"))

    chats = [first, second, third]
    counts = {name: sum(len(briefed(c, name)) for c in chats) for name in ("Support", "Billing", "Ops", "Sales")}
    assert counts == {"Support": 1, "Billing": 1, "Ops": 0, "Sales": 1}
    assert briefed(first, "Support") == ["📣 What customers said, for Support · Mon 4 Jan – Mon 11 Jan"]
    assert briefed(third, "Sales") == ["📣 What customers said, for Sales · Tue 5 Jan – Tue 12 Jan"]
    db.dispose()
