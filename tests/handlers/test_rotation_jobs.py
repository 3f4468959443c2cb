"""Reminders, heads-ups and escalations of real rotations (rows in the rotation tables), with the
clock set by the test: 09:00 local in three zones across the 2027 DST changes, working time that
stops at night, and each thing sent once however often the round runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from handlers import rotation_jobs, tickets
from handlers.base import Actor
from storage.models import OutboxJob
from tests.handlers.conftest import drain
from tests.handlers.rotation_helpers import make_rotation, person, set_clock
from tests.handlers.test_tickets import mail

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def local(day: date, hour: int, minute: int = 0, zone=BERLIN) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


async def round_at(ctx, clock, worker, moment: datetime) -> int:
    """One round of the rotations' job at ``moment``, and everything it queued delivered."""
    set_clock(clock, moment)
    sent = rotation_jobs.tick(ctx)
    await drain(worker)
    return sent


def texts(chat, user: str, containing: str = "") -> list[str]:
    return [text for uid, text in chat.direct_messages if uid == user and containing in text]


@pytest.mark.parametrize("zone, utc_hours", [
    # 09:00 local in UTC hours, on Fri 12, Mon 15, Fri 26 and Mon 29 March 2027: the US changes on
    # Sunday 14 March, the EU on Sunday 28 March, Japan never
    ("Europe/Berlin", [8, 8, 8, 7]),
    ("America/New_York", [14, 13, 13, 13]),
    ("Asia/Tokyo", [0, 0, 0, 0]),
])
async def test_the_reminder_goes_out_at_9_local_across_the_dst_changes(ctx, clock, worker, chat, zone, utc_hours):
    with ctx.db.transaction() as s:
        ann = person(s, "test", "U-ANN", "Ann")
    make_rotation(ctx.db, "support", [ann], tz=zone, start=date(2027, 3, 1))
    days = [date(2027, 3, 12), date(2027, 3, 15), date(2027, 3, 26), date(2027, 3, 29)]
    for day, utc_hour in zip(days, utc_hours):
        nine = local(day, 9, zone=ZoneInfo(zone))
        assert nine.astimezone(UTC).hour == utc_hour
        on_duty = "U-ANN"
        told = len(texts(chat, on_duty, "on support today"))
        await round_at(ctx, clock, worker, nine - timedelta(minutes=1))
        assert len(texts(chat, on_duty, "on support today")) == told, f"told before 09:00 on {day}"
        await round_at(ctx, clock, worker, nine)
        await round_at(ctx, clock, worker, nine + timedelta(seconds=30))
        assert len(texts(chat, on_duty, "on support today")) == told + 1, f"not told once at 09:00 on {day}"
        assert texts(chat, on_duty, "on support today")[-1].startswith(
            "☀️ You are on support today until 17:00 (support).")


async def test_the_heads_up_comes_the_working_day_before_and_the_channel_hears_who_is_on_duty(ctx, clock, worker,
                                                                                            chat):
    with ctx.db.transaction() as s:
        ann, bob = person(s, "test", "U-ANN", "Ann"), person(s, "test", "U-BOB", "Bob")
    make_rotation(ctx.db, "support", [ann, bob], tz="Europe/Berlin", start=date(2027, 1, 4),
                  channel=("test", "C-ROTA"))
    friday = date(2027, 1, 8)  # Ann's (Mon, Wed, Fri); Monday 11 January is Bob's
    await round_at(ctx, clock, worker, local(friday, 8, 59))
    assert texts(chat, "U-BOB", "Heads-up") == []
    await round_at(ctx, clock, worker, local(friday, 9))
    assert texts(chat, "U-BOB", "Heads-up") == [
        "👋 Heads-up: you are on support next, Mon 11 Jan, 09:00–17:00 (Europe/Berlin), in support."]
    assert [(c, card.title) for c, _, card in chat.channel_posts] == [("C-ROTA", "Today on support: Ann (until 17:00)")]
    assert [p.name for p in chat.channel_posts[0][2].status if hasattr(p, "ids")] == ["Ann"]  # mentioned
    await round_at(ctx, clock, worker, local(friday, 16))
    await round_at(ctx, clock, worker, local(date(2027, 1, 11), 9, 1))
    assert len(texts(chat, "U-BOB", "Heads-up")) == 1 and len(texts(chat, "U-BOB", "on support today")) == 1
    assert len(texts(chat, "U-ANN", "on support today")) == 1


async def test_the_reminder_lists_the_tickets_nobody_has_claimed_and_names_the_onboarding_buddy(ctx, clock, worker,
                                                                                               chat):
    from storage.models import RotationOnboarding

    with ctx.db.transaction() as s:
        ann, bob, nina = (person(s, "test", "U-ANN", "Ann"), person(s, "test", "U-BOB", "Bob"),
                          person(s, "test", "U-NINA", "Nina"))
    rid = make_rotation(ctx.db, "support", [ann, bob], start=date(2027, 1, 4))
    with ctx.db.transaction() as s:
        s.add(RotationOnboarding(rotation_id=rid, person_id=nina, buddy_id=bob, first_day=date(2027, 1, 4), days=5))
    monday = datetime(2027, 1, 4, 9, tzinfo=UTC)
    set_clock(clock, monday - timedelta(hours=1))
    first = tickets.intake(ctx, replace(mail(subject="Double charge"), received_at=monday - timedelta(hours=1)))
    second = tickets.intake(ctx, replace(mail(subject="Login broken"), received_at=monday - timedelta(hours=1)))
    tickets.claim(ctx, Actor("test", "U-BOB", "Bob"), second.ticket_id)
    await round_at(ctx, clock, worker, monday)
    (to_ann,) = texts(chat, "U-ANN", "on support today")
    assert to_ann == (f"☀️ You are on support today until 17:00 (support). With you: Nina. Buddy: Bob (ask them "
                      f"anything).\nOpen tickets nobody has claimed (1):\n#{first.ticket_id} · Double charge")
    (to_nina,) = texts(chat, "U-NINA", "on support today")
    assert "With you: Ann. Buddy: Bob (ask them anything)." in to_nina


async def test_an_unclaimed_ticket_reaches_the_person_on_duty_then_the_channel_in_working_time(ctx, clock, worker,
                                                                                               chat):
    with ctx.db.transaction() as s:
        ann, bob = person(s, "test", "U-ANN", "Ann"), person(s, "test", "U-BOB", "Bob")
    make_rotation(ctx.db, "support", [ann, bob], tz="Europe/Berlin", start=date(2027, 1, 4))
    monday, tuesday = date(2027, 1, 4), date(2027, 1, 5)
    ctx.escalate_minutes = 30
    # inside working hours: 30 minutes to Ann, who is on duty, 60 to the channel
    set_clock(clock, local(monday, 10))
    inside = tickets.intake(ctx, replace(mail(subject="Inside"), received_at=local(monday, 10))).ticket_id
    await drain(worker)
    await round_at(ctx, clock, worker, local(monday, 10, 29))
    assert texts(chat, "U-ANN", "Unclaimed") == []
    await round_at(ctx, clock, worker, local(monday, 10, 30))
    assert texts(chat, "U-ANN", "Unclaimed") == [f"⏰ Unclaimed for 30 working minutes: #{inside} · Inside"]
    assert chat.channel_posts == []
    await round_at(ctx, clock, worker, local(monday, 11))
    assert [(c, t) for c, t, _ in chat.channel_posts] == [
        ("support", f"⏰ #{inside} · Inside has waited 60 working minutes and nobody has claimed it yet.")]
    # the DM carries a Claim button for this ticket
    dm = [j for j in jobs(ctx) if j.kind == "chat.direct" and "card" in j.payload][0]
    assert [a["action_id"] for a in dm.payload["card"]["actions"]] == ["ticket.claim"]
    assert dm.payload["card"]["actions"][0]["value"] == str(inside)

    # outside working hours the clock stops: 10 minutes on Monday evening, 20 on Tuesday morning
    set_clock(clock, local(monday, 16, 50))
    evening = tickets.intake(ctx, replace(mail(subject="Evening"), received_at=local(monday, 16, 50))).ticket_id
    await drain(worker)
    for moment in (local(monday, 17, 30), local(monday, 23, 59), local(tuesday, 9, 19)):
        await round_at(ctx, clock, worker, moment)
    assert texts(chat, "U-BOB", "Unclaimed") == [] and len(texts(chat, "U-ANN", "Unclaimed")) == 1
    await round_at(ctx, clock, worker, local(tuesday, 9, 20))
    assert texts(chat, "U-BOB", "Unclaimed") == [f"⏰ Unclaimed for 30 working minutes: #{evening} · Evening"]
    assert len(texts(chat, "U-ANN", "Unclaimed")) == 1  # Tuesday is Bob's

    # claimed meanwhile: nothing more about it, however long it waits
    tickets.claim(ctx, Actor("test", "U-BOB", "Bob"), evening)
    await round_at(ctx, clock, worker, local(tuesday, 9, 50))
    assert [t for _, t, _ in chat.channel_posts if "Evening" in t] == []
    assert len(texts(chat, "U-ANN", "Unclaimed")) == 1 and len(chat.channel_posts) == 1


async def test_a_claimed_ticket_without_an_answer_for_4_working_hours_nudges_its_claimer_once(ctx, clock, worker,
                                                                                             chat):
    with ctx.db.transaction() as s:
        ann = person(s, "test", "U-ANN", "Ann")
    make_rotation(ctx.db, "support", [ann], start=date(2027, 1, 4))
    monday = datetime(2027, 1, 4, 15, tzinfo=UTC)
    set_clock(clock, monday)
    t = tickets.intake(ctx, replace(mail(subject="Refund"), received_at=monday)).ticket_id
    tickets.claim(ctx, Actor("test", "U-ANN", "Ann"), t)
    await drain(worker)
    await round_at(ctx, clock, worker, datetime(2027, 1, 5, 10, 59, tzinfo=UTC))  # 2 h Monday + 1 h 59 Tuesday
    assert texts(chat, "U-ANN", "waited 4 working hours") == []
    for minute in (0, 1, 30):
        await round_at(ctx, clock, worker, datetime(2027, 1, 5, 11, minute, tzinfo=UTC))
    assert texts(chat, "U-ANN", "waited 4 working hours") == [
        f"⏳ carol@example.com has waited 4 working hours for an answer on a ticket you claimed: #{t} · Refund\n"
        "Answer in its thread, or unclaim it so someone else can."]


async def test_rounds_that_overlap_send_each_reminder_once(ctx, clock, worker, chat):
    """Two rounds at the same moment, as two processes that both believe they lead would run them."""
    import asyncio

    with ctx.db.transaction() as s:
        ann = person(s, "test", "U-ANN", "Ann")
    make_rotation(ctx.db, "support", [ann], start=date(2027, 1, 4), channel=("test", "C-ROTA"))
    set_clock(clock, datetime(2027, 1, 4, 9, 5, tzinfo=UTC))
    sent = await asyncio.gather(*(asyncio.to_thread(rotation_jobs.tick, ctx) for _ in range(4)))
    await drain(worker)
    assert sum(sent) == 3  # the DM, the channel post, and Tuesday's heads-up: each by one round
    assert len(texts(chat, "U-ANN", "on support today")) == 1 and len(chat.channel_posts) == 1


def jobs(ctx) -> list[OutboxJob]:
    with ctx.db.transaction(read_only=True) as s:
        return list(s.exec(select(OutboxJob).order_by(OutboxJob.id)))


async def test_links_lead_to_the_ticket_thread_on_the_platform_the_person_reads(ctx, clock):
    from storage.models import ThreadAnchor

    ctx.platforms = ("slack", "teams")
    with ctx.db.transaction() as s:
        ann = person(s, "slack", "UANN", "Ann")
        tom = person(s, "teams", "29:tom", "Tom")
    make_rotation(ctx.db, "support", [ann, tom], start=date(2027, 1, 4), days="mon-sun")
    make_rotation(ctx.db, "weekend", [tom], start=date(2027, 1, 4), days="mon-sun")
    monday = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
    set_clock(clock, monday)
    t = tickets.intake(ctx, replace(mail(subject="Refund"), received_at=monday)).ticket_id
    with ctx.db.transaction() as s:
        s.add(ThreadAnchor(ticket_id=t, platform="slack", channel="CSUPPORT", thread_id="1700000000.000100"))
        s.add(ThreadAnchor(ticket_id=t, platform="teams", tenant="tenant-1", channel="19:abc@thread.tacv2",
                           thread_id="1700000000123"))
    rotation_jobs.tick(ctx)
    by_person = {j.payload["person_id"]: j.payload["text"] for j in jobs(ctx)
                 if j.kind == "chat.direct" and "on support today" in j.payload["text"]}
    assert by_person[ann].endswith(f"#{t} · Refund · https://slack.com/archives/CSUPPORT/p1700000000000100")
    assert by_person[tom].endswith(
        f"#{t} · Refund · https://teams.microsoft.com/l/message/19%3Aabc%40thread.tacv2/1700000000123"
        "?tenantId=tenant-1&parentMessageId=1700000000123")
