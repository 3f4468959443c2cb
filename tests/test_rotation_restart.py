"""A Pitchin process stopped and started again during a support day: each reminder goes out once,
and the one that came due while no process ran goes out when the next one starts (the shift still
running). Real processes' parts (scheduler, lease, delivery worker) on one SQLite file; the clock
is set by the test."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.app import Pitchin
from bot.config import Settings
from handlers import tickets
from handlers.context import Context
from storage.db import Database
from storage.models import OutboxJob
from tests.conftest import FakeClock, RecordingChat, RecordingCustomers
from tests.handlers.rotation_helpers import make_rotation, person, set_clock
from tests.handlers.test_tickets import mail

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2027, 1, 4)


def berlin(hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, 4, hour, minute, tzinfo=BERLIN)


async def until(what, check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        await asyncio.sleep(0.05)


def pending(db: Database) -> int:
    with db.transaction(read_only=True) as s:
        return s.execute(select(func.count()).select_from(OutboxJob).where(OutboxJob.state == "pending")).scalar_one()


async def run_process(url: str, tmp_path, moment: datetime, done) -> RecordingChat:
    """One process from start to stop, its clock at ``moment``: stopped once ``done(chat)`` holds
    and everything it queued is delivered."""
    chat, clock = RecordingChat(), FakeClock()
    set_clock(clock, moment)
    pitchin = Pitchin(Settings(database_url=url, maildir=str(tmp_path / "maildir")), extra_chats={"test": chat},
                      customers=RecordingCustomers())
    pitchin.ctx.clock = clock
    pitchin.ctx.escalate_minutes = 30
    await pitchin.start(http=False, worker=True, scheduler=True)
    try:
        await until(f"the process at {moment:%H:%M} sends what is due", lambda: done(chat))
        await until("everything queued is delivered", lambda: pending(pitchin.db) == 0)
    finally:
        await pitchin.stop()
    return chat


def dms(chats: list[RecordingChat], user: str, containing: str) -> list[str]:
    return [text for chat in chats for uid, text in chat.direct_messages if uid == user and containing in text]


async def test_a_restart_during_the_day_sends_each_reminder_once_and_the_missed_one_on_start(sqlite_url, tmp_path):
    db = Database(sqlite_url)
    db.upgrade()
    with db.transaction() as s:
        ann, bob = person(s, "test", "U-ANN", "Ann"), person(s, "test", "U-BOB", "Bob")
    make_rotation(db, "support", [ann, bob], tz="Europe/Berlin", start=MONDAY, channel=("test", "C-ROTA"))

    # 08:30: the heads-up for Ann's shift today (there was no shift before it)
    early = await run_process(sqlite_url, tmp_path, berlin(8, 30), lambda c: dms([c], "U-ANN", "Heads-up"))
    assert dms([early], "U-ANN", "on support today") == []

    # down at 09:00; started again at 10:00, while Ann's shift runs: her reminder and the channel's
    # post go out now, and Bob's heads-up for Tuesday
    late = await run_process(sqlite_url, tmp_path, berlin(10),
                             lambda c: dms([c], "U-ANN", "on support today") and dms([c], "U-BOB", "Heads-up")
                             and c.channel_posts)

    # a ticket since 12:00; started again at 13:00: the escalation goes out, no reminder again
    ctx = Context(db=db, platforms=("test",), clock=FakeClock())
    set_clock(ctx.clock, berlin(12))
    ticket = tickets.intake(ctx, replace(mail(subject="Refund"), received_at=berlin(12))).ticket_id
    noon = await run_process(sqlite_url, tmp_path, berlin(13), lambda c: dms([c], "U-ANN", "Unclaimed"))

    chats = [early, late, noon]
    assert len(dms(chats, "U-ANN", "Heads-up")) == 1 and len(dms(chats, "U-BOB", "Heads-up")) == 1
    assert len(dms(chats, "U-ANN", "on support today")) == 1
    assert [card.title for chat in chats for _, _, card in chat.channel_posts if card] == [
        "Today on support: Ann (until 17:00)"]
    assert dms(chats, "U-ANN", "Unclaimed") == [f"⏰ Unclaimed for 30 working minutes: #{ticket} · Refund"]
    db.dispose()
