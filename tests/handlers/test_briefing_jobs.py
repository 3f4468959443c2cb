"""The weekly briefing by the clock (set by the test): due at the department's weekday and time in
its zone, posted to its channel and sent to its managers once however often the round runs; one
missed while Pitchin was down goes out later the same local day, and not the day after."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from handlers import briefing_jobs, registry
from handlers.base import Actor, Named
from storage.models import ScheduledRun
from tests.handlers.conftest import drain
from tests.handlers.rotation_helpers import set_clock
from tests.handlers.test_briefings import MONDAY, two_weeks

ANN = Actor("test", "U-ANN", "Ann", tz="Europe/Berlin")
BOB = Actor("test", "U-BOB", "Bob")


async def round_at(ctx, clock, worker, moment) -> int:
    set_clock(clock, moment)
    sent = briefing_jobs.tick(ctx)
    await drain(worker)
    return sent


def add(ctx, clock, text: str, channel: str) -> None:
    set_clock(clock, MONDAY - timedelta(days=4))  # added the Thursday before
    said = registry.run_command(ctx, ANN, text, "", Named(people=(BOB,), channels=(channel,)))
    assert said.ok, said.text


def posts(chat, channel: str) -> list:
    return [(text, card) for c, text, card in chat.channel_posts if c == channel]


async def test_the_monday_briefing_goes_out_once_to_the_channel_and_the_managers(ctx, clock, worker, chat):
    two_weeks(ctx.db)
    add(ctx, clock, "department add Support <channel:0> <person:0>", "C-SUP")  # Mon 09:00 Europe/Berlin (Ann's)
    assert await round_at(ctx, clock, worker, MONDAY - timedelta(minutes=1)) == 0
    assert posts(chat, "C-SUP") == []
    assert await round_at(ctx, clock, worker, MONDAY) == 1
    for later in (timedelta(seconds=30), timedelta(hours=3)):
        assert await round_at(ctx, clock, worker, MONDAY + later) == 0
    ((text, card),) = posts(chat, "C-SUP")
    assert text == card.title == "📣 What customers said, for Support · Mon 4 Jan – Mon 11 Jan"
    assert card.body.startswith("23 customers raised something this week (new tickets and feedback); the top 3 "
                                "issues:\n\n1. ")
    assert "· 6 customers (↑ from 4)" in card.body and "· 3 customers (↓ from 9)" in card.body
    assert [text for uid, text in chat.direct_messages if uid == "U-BOB"] == [card.title]  # the manager, once
    with ctx.db.transaction() as s:
        keys = s.execute(select(ScheduledRun.period_key).where(ScheduledRun.job == "briefing")).scalars().all()
    assert len(keys) == 1 and keys[0].endswith(":2027-01-11")
    # a week later, the next one
    assert await round_at(ctx, clock, worker, MONDAY + timedelta(days=7)) == 1
    assert len(posts(chat, "C-SUP")) == 2


async def test_missed_while_down_goes_out_the_same_local_day_but_not_the_next(ctx, clock, worker, chat):
    two_weeks(ctx.db)
    add(ctx, clock, "department add Billing <channel:0> weekly mon 09:00 tz Europe/Berlin", "C-BILL")
    add(ctx, clock, "department add Sales <channel:0> weekly mon 09:00 tz America/New_York", "C-SALES")
    # Pitchin was down from before Monday 09:00 Berlin until 15:00 Berlin (09:00 New York)
    assert await round_at(ctx, clock, worker, MONDAY + timedelta(hours=6) - timedelta(minutes=1)) == 1
    assert len(posts(chat, "C-BILL")) == 1 and posts(chat, "C-SALES") == []  # New York: 08:59 still
    # and down again until Tuesday 00:30 Berlin: Monday 18:30 in New York, Sales' briefing still goes
    assert await round_at(ctx, clock, worker, MONDAY + timedelta(hours=15, minutes=30)) == 1
    assert len(posts(chat, "C-SALES")) == 1

    # next week, down all Monday: on Tuesday neither goes out (a day late, it is not sent at all)
    tuesday = MONDAY + timedelta(days=8)
    assert await round_at(ctx, clock, worker, tuesday) == 0
    assert await round_at(ctx, clock, worker, tuesday + timedelta(hours=10)) == 0
    assert len(posts(chat, "C-BILL")) == 1 and len(posts(chat, "C-SALES")) == 1


async def test_a_department_added_after_its_time_waits_for_next_week(ctx, clock, worker, chat):
    two_weeks(ctx.db)
    set_clock(clock, MONDAY + timedelta(hours=1))
    assert registry.run_command(ctx, ANN, "department add Support <channel:0>", "", Named(channels=("C-SUP",))).ok
    assert await round_at(ctx, clock, worker, MONDAY + timedelta(hours=2)) == 0
    assert await round_at(ctx, clock, worker, MONDAY + timedelta(days=7)) == 1


async def test_a_quiet_week_is_said_in_one_line_to_the_channel_only(ctx, clock, worker, chat):
    add(ctx, clock, "department add Support <channel:0> <person:0>", "C-SUP")
    assert await round_at(ctx, clock, worker, MONDAY) == 1
    assert posts(chat, "C-SUP") == [("📣 Nothing customers raised for Support this week (Mon 4 Jan – Mon 11 Jan): no "
                                     "new ticket and no feedback logged. No briefing this time.", None)]
    assert chat.direct_messages == []
