"""The daily digest across restarts: real processes' parts (scheduler, lease, delivery worker) on one
SQLite file, each started and stopped with its clock set by the test. The digest goes out once a
day; one missed while no process ran goes out when the next starts, that same day."""

from __future__ import annotations

from datetime import date, datetime

from bot.app import Pitchin
from bot.config import Settings
from handlers import digest, digest_jobs
from handlers.base import Actor, Named
from handlers.context import Context
from storage.db import Database
from tests.conftest import FakeClock, RecordingChat, RecordingCustomers
from tests.handlers.rotation_helpers import set_clock
from tests.handlers.test_digest import berlin, conversation
from tests.test_rotation_restart import pending, until

MONDAY, TUESDAY, WEDNESDAY = date(2027, 1, 4), date(2027, 1, 5), date(2027, 1, 6)


async def run_process(url: str, tmp_path, moment: datetime, rounds: list, done) -> RecordingChat:
    """One process from start to stop, its clock at ``moment``: stopped once ``done(chat)`` holds after
    one of its digest rounds, and everything it queued is delivered."""
    chat, clock = RecordingChat(), FakeClock()
    set_clock(clock, moment)
    pitchin = Pitchin(Settings(database_url=url, maildir=str(tmp_path / "maildir")), extra_chats={"test": chat},
                      customers=RecordingCustomers())
    pitchin.ctx.clock = clock
    seen = len(rounds)
    await pitchin.start(http=False, worker=True, scheduler=True)
    try:
        await until(f"the process at {moment:%a %H:%M} makes a digest round", lambda: len(rounds) > seen)
        await until("everything queued is delivered", lambda: pending(pitchin.db) == 0)
        await until(f"the process at {moment:%a %H:%M} posts what is due", lambda: done(chat))
    finally:
        await pitchin.stop()
    return chat


async def test_the_digest_goes_out_once_a_day_across_restarts_and_on_start_when_missed(sqlite_url, tmp_path,
                                                                                        monkeypatch):
    db = Database(sqlite_url)
    db.upgrade()
    ctx = Context(db=db, platforms=("test",), clock=FakeClock())
    set_clock(ctx.clock, berlin(MONDAY, 9))
    assert digest.run(ctx, Actor("test", "U-ANN", "Ann", tz="Europe/Berlin"), ["<channel:0>"],
                      Named(channels=("C-ALL",))).ok
    conversation(ctx, "Monday question", "Monday answer", berlin(MONDAY, 10))
    conversation(ctx, "Tuesday question", "Tuesday answer", berlin(TUESDAY, 10), email="dora@example.com")

    rounds: list[int] = []  # what each digest round of any process returned, as it returned
    real_tick = digest_jobs.tick
    monkeypatch.setattr(digest_jobs, "tick", lambda ctx, owner="": rounds.append(real_tick(ctx, owner)) or rounds[-1])

    # Tuesday 16:05: the digest about Monday
    first = await run_process(sqlite_url, tmp_path, berlin(TUESDAY, 16, 5), rounds, lambda c: c.channel_posts)
    # started again at 17:00: nothing again
    again = await run_process(sqlite_url, tmp_path, berlin(TUESDAY, 17), rounds, lambda c: True)
    # down at 16:00 on Wednesday, started at 21:00: Wednesday's digest (about Tuesday) now
    late = await run_process(sqlite_url, tmp_path, berlin(WEDNESDAY, 21), rounds, lambda c: c.channel_posts)

    titles = [(channel, card.title) for chat in (first, again, late) for channel, _, card in chat.channel_posts]
    assert titles == [("C-ALL", "💬 The one customer conversation answered on Mon 4 Jan"),
                      ("C-ALL", "💬 The one customer conversation answered on Tue 5 Jan")]
    assert "Monday answer" in first.channel_posts[0][2].body and "Tuesday answer" in late.channel_posts[0][2].body
    db.dispose()
