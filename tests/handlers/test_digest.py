"""The daily digest in the core: real tickets answered (or not) through handlers.tickets, the digest
set with the command, and the round run with the clock set by the test. What the channel is shown
is read from the recording chat, after the real delivery worker has sent it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from handlers import digest, digest_jobs, outbound, tickets
from handlers.base import Actor, DeliveryError, Named
from storage.models import ScheduledRun, Setting, TicketMessage
from tests.handlers.conftest import drain
from tests.handlers.rotation_helpers import set_clock
from tests.handlers.test_tickets import in_thread, mail

BERLIN = ZoneInfo("Europe/Berlin")
ANN = Actor("test", "U-ANN", "Ann Employee", tz="Europe/Berlin")
BOB = Actor("test", "U-BOB", "Bob")
MONDAY, TUESDAY, WEDNESDAY = date(2027, 1, 4), date(2027, 1, 5), date(2027, 1, 6)


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def set_digest(ctx, *words: str, actor: Actor = ANN) -> str:
    reply = digest.run(ctx, actor, ["<channel:0>", *words], Named(channels=("C-ALL",), here="C-HERE"))
    assert reply.ok, reply.text
    return reply.text


def conversation(ctx, question: str, answer: str | None, when: datetime, *, name: str = "Carol Smith",
                 email: str = "carol@example.com", by: Actor = ANN, subject: str = "Help") -> tuple[int, int | None]:
    """A customer writes ``question``; ``by`` answers with ``answer`` (``note: …`` keeps it internal) at
    ``when``: the ticket and the reply (or note)."""
    message = replace(mail(text=question, sender=email, subject=subject), sender_name=name)
    ticket = tickets.intake(ctx, message).ticket_id
    if answer is None:
        return ticket, None
    tickets.answer(ctx, by, ticket, answer, in_thread(ticket))
    with ctx.db.transaction() as s:
        message = s.execute(select(TicketMessage).where(TicketMessage.ticket_id == ticket)
                            .order_by(TicketMessage.id.desc())).scalars().first()
        # written at ``when``; the customer's question an hour before
        s.execute(update(TicketMessage).where(TicketMessage.id == message.id).values(created_at=when))
        s.execute(update(TicketMessage).where(TicketMessage.ticket_id == ticket, TicketMessage.kind == "customer")
                  .values(created_at=when - timedelta(hours=1)))
    return ticket, message.id


async def round_at(ctx, clock, worker, moment: datetime) -> int:
    set_clock(clock, moment)
    shown = digest_jobs.tick(ctx)
    await drain(worker)
    return shown


def posts(chat) -> list:
    return [card for channel, _, card in chat.channel_posts if channel == "C-ALL"]


def everything(card) -> str:
    return "\n".join([card.title, card.body, *map(str, card.status)])


async def test_only_conversations_answered_the_day_before_are_picked(ctx, clock, worker, chat, customers):
    set_clock(clock, berlin(MONDAY, 9))
    set_digest(ctx, "tz", "Europe/Berlin")
    # a reply the customer's mail server refused for good: Pitchin gave up on it
    conversation(ctx, "Wrong address", "Fixed it.", berlin(MONDAY, 14))
    customers.fail_with = DeliveryError("550 no such user", permanent=True)
    set_clock(clock, berlin(MONDAY, 9, 1))  # after the undo window
    await drain(worker)
    customers.fail_with = None
    with ctx.db.transaction(read_only=True) as s:
        assert s.execute(select(TicketMessage.delivery_state).where(TicketMessage.kind == "reply")).scalars().all() \
            == ["failed"]
    first, _ = conversation(ctx, "Where is my parcel?", "It left our warehouse today.", berlin(MONDAY, 10),
                            subject="Parcel")
    late, _ = conversation(ctx, "Can I pay by invoice?", "Yes: choose Invoice at checkout.", berlin(MONDAY, 23, 59),
                           name="Dora", by=BOB, subject="Invoice")
    conversation(ctx, "Nobody answers me", None, berlin(MONDAY, 11))
    conversation(ctx, "Is the API down?", "note: checking with ops first", berlin(MONDAY, 12))
    undone, reply = conversation(ctx, "Refund please", "Refunded!", berlin(MONDAY, 13))
    assert tickets.undo_reply(ctx, ANN, reply).ok
    conversation(ctx, "Sunday question", "Sunday answer", berlin(MONDAY, 0) - timedelta(minutes=1))
    conversation(ctx, "Tuesday question", "Tuesday answer", berlin(TUESDAY, 9))

    assert await round_at(ctx, clock, worker, berlin(TUESDAY, 15, 59)) == 0
    assert posts(chat) == []
    assert await round_at(ctx, clock, worker, berlin(TUESDAY, 16)) == 2
    (card,) = posts(chat)
    assert card.title == "💬 The two customer conversations answered on Mon 4 Jan"
    assert card.body == (f"Carol asked (#{first} · Parcel):\n“Where is my parcel?”\nAnn Employee answered:\n"
                         f"“It left our warehouse today.”\n\n"
                         f"Dora asked (#{late} · Invoice):\n“Can I pay by invoice?”\nBob answered:\n"
                         f"“Yes: choose Invoice at checkout.”")
    for left_out in ("Nobody answers", "checking with ops", "Refund", "Wrong address", "Sunday", "Tuesday"):
        assert left_out not in everything(card)


async def test_the_digest_never_shows_a_customers_address_nor_their_last_name(ctx, clock, worker, chat):
    set_clock(clock, berlin(MONDAY, 9))
    set_digest(ctx)
    question = ("Hello,\nplease send the invoice to carol.smith@example.com, or to my colleague "
                "pay@smith-ltd.example.org. You can call me on +49 170 1234567 or (030) 123 456 789.\n"
                "Order 2026-11-30 / 12345.\nRegards,\nCarol Smith\n\nOn Mon, Jan 4 Pitchin <help@acme.test> wrote:\n"
                "> an earlier mail")
    ticket, _ = conversation(ctx, question, "Hi Carol Smith, done: it went to carol.smith@example.com.",
                             berlin(MONDAY, 10), email="carol.smith@example.com", subject="Invoice for Carol Smith")
    nameless, _ = conversation(ctx, "Hi", "Hello!", berlin(MONDAY, 11), name="", email="x@example.com")
    address, _ = conversation(ctx, "Hey", "Hey!", berlin(MONDAY, 12), name="eve@example.com", email="eve@example.com")
    await round_at(ctx, clock, worker, berlin(TUESDAY, 16))
    (card,) = posts(chat)
    shown = everything(card)
    for private in ("@", "carol.smith", "smith-ltd", "Smith", "170", "1234567", "123 456 789", "eve@", "x@",
                    "earlier mail"):
        assert private not in shown, private
    assert (f"Carol asked (#{ticket} · Invoice for Carol):\n“Hello, please send the invoice to [address removed], or "
            "to my colleague [address removed]. You can call me on [number removed] or [number removed]. "
            "Order 2026-11-30 / 12345. Regards, Carol”\nAnn Employee answered:\n"
            "“Hi Carol, done: it went to [address removed].”") in card.body
    assert f"A customer asked (#{nameless} · Help)" in card.body
    assert f"A customer asked (#{address} · Help)" in card.body


async def test_five_at_most_and_the_same_five_when_a_run_crashed_and_runs_again(ctx, clock, worker, chat,
                                                                                 monkeypatch):
    set_clock(clock, berlin(MONDAY, 9))
    set_digest(ctx)
    for n in range(8):
        conversation(ctx, f"Question {n}", f"Answer {n}", berlin(MONDAY, 8 + n), name=f"Customer{n}",
                     email=f"c{n}@example.com")
    crashed = []

    def crash(ctx, session, platform, channel, text="", card=None, key=None):
        crashed.append(card)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(outbound, "post_to_channel", crash)
    assert await round_at(ctx, clock, worker, berlin(TUESDAY, 16)) == 0
    monkeypatch.undo()
    assert posts(chat) == []
    assert await round_at(ctx, clock, worker, berlin(TUESDAY, 16, 1)) == 5
    (card,) = posts(chat)
    assert card == crashed[0]
    assert card.title == "💬 Five of the 8 customer conversations answered on Mon 4 Jan"
    assert card.body.count(" asked (#") == 5
    # another day draws other ones (from the same eight, answered again on Tuesday)
    with ctx.db.transaction() as s:
        for reply in s.execute(select(TicketMessage).where(TicketMessage.kind == "reply")).scalars():
            reply.created_at += timedelta(days=1)
    await round_at(ctx, clock, worker, berlin(WEDNESDAY, 16))
    assert len(posts(chat)) == 2 and posts(chat)[1].body != card.body


async def test_once_a_day_however_often_the_round_runs(ctx, clock, worker, chat):
    set_clock(clock, berlin(MONDAY, 9))
    set_digest(ctx, "at", "9:30")
    conversation(ctx, "Monday question", "Monday answer", berlin(MONDAY, 10))
    conversation(ctx, "Tuesday question", "Tuesday answer", berlin(TUESDAY, 8))
    for moment in (berlin(TUESDAY, 9, 30), berlin(TUESDAY, 9, 30, ) + timedelta(seconds=30), berlin(TUESDAY, 23, 59),
                   berlin(WEDNESDAY, 9, 29)):
        await round_at(ctx, clock, worker, moment)
    assert [c.title for c in posts(chat)] == ["💬 The one customer conversation answered on Mon 4 Jan"]
    await round_at(ctx, clock, worker, berlin(WEDNESDAY, 9, 30))
    await round_at(ctx, clock, worker, berlin(WEDNESDAY, 9, 31))
    assert [c.title for c in posts(chat)][1:] == ["💬 The one customer conversation answered on Tue 5 Jan"]
    with ctx.db.transaction(read_only=True) as s:
        assert s.execute(select(ScheduledRun.period_key).where(ScheduledRun.job == "digest")
                         .order_by(ScheduledRun.period_key)).scalars().all() == ["2027-01-05", "2027-01-06"]


async def test_a_digest_missed_while_down_goes_out_later_that_day_but_not_the_next(ctx, clock, worker, chat):
    set_clock(clock, berlin(MONDAY, 9))
    set_digest(ctx)
    conversation(ctx, "Monday question", "Monday answer", berlin(MONDAY, 10))
    conversation(ctx, "Tuesday question", "Tuesday answer", berlin(TUESDAY, 10))
    # down from Tuesday 15:00 to 22:00: Tuesday's digest goes out at 22:00
    await round_at(ctx, clock, worker, berlin(TUESDAY, 22))
    assert [c.title for c in posts(chat)] == ["💬 The one customer conversation answered on Mon 4 Jan"]
    # down all Wednesday: its digest is not sent on Thursday morning; Thursday's comes at 16:00
    await round_at(ctx, clock, worker, berlin(date(2027, 1, 7), 10))
    assert len(posts(chat)) == 1
    await round_at(ctx, clock, worker, berlin(date(2027, 1, 7), 16))
    assert [c.title for c in posts(chat)][1:] == []  # nothing was answered on Wednesday: nothing posted
    with ctx.db.transaction(read_only=True) as s:
        assert s.execute(select(ScheduledRun.period_key).where(ScheduledRun.job == "digest")
                         .order_by(ScheduledRun.period_key)).scalars().all() == ["2027-01-05", "2027-01-07"]


async def test_digest_off_stops_it(ctx, clock, worker, chat):
    set_clock(clock, berlin(MONDAY, 9))
    set_digest(ctx)
    conversation(ctx, "Monday question", "Monday answer", berlin(MONDAY, 10))
    reply = digest.run(ctx, BOB, ["off"], Named())
    assert reply.text == "The daily digest is off: nothing more goes to #C-ALL."
    assert await round_at(ctx, clock, worker, berlin(TUESDAY, 16)) == 0
    assert posts(chat) == []
    with ctx.db.transaction(read_only=True) as s:
        assert s.execute(select(func.count()).select_from(ScheduledRun)).scalar_one() == 0
        assert s.get(Setting, "digest") is None
    assert digest.run(ctx, BOB, ["off"], Named()).text.startswith("There is no daily digest to turn off.")


def test_the_command_sets_shows_and_explains(ctx, clock):
    set_clock(clock, berlin(MONDAY, 17))
    said = digest.run(ctx, BOB, [], Named())
    assert said.text.startswith("There is no daily digest yet") and "Usage: digest #channel" in said.text
    # after today's 16:00 in the asker's zone: the first comes tomorrow
    said = set_digest(ctx)
    assert said == ("Every day at 16:00 Europe/Berlin (your time zone), five random customer conversations answered "
                    "the day before go to #C-ALL: the customer's question, the answer, the colleague's name and the "
                    "customer's first name only, with links to the threads. The first comes Tue 5 Jan.")
    assert digest.run(ctx, BOB, [], Named()).text.startswith(
        "The daily digest goes to #C-ALL at 16:00 Europe/Berlin every day, set by Ann Employee.")
    # someone without a known zone, in the channel they type in, at 18:00 UTC (17:00 here is 16:00 UTC)
    said = digest.run(ctx, BOB, ["here", "at", "18:00"], Named(here="C-HERE")).text
    assert said.startswith("Every day at 18:00 UTC (no time zone given and none known for you: UTC; add tz "
                           "Europe/Berlin to change), ") and "go to this channel: " in said
    assert said.endswith("The first comes Mon 4 Jan. It no longer goes to #C-ALL.")
    with ctx.db.transaction(read_only=True) as s:
        value = s.get(Setting, "digest").value
    assert {k: value[k] for k in ("platform", "channel", "at", "tz", "first_day")} == {
        "platform": "test", "channel": "C-HERE", "at": "18:00", "tz": "UTC", "first_day": "2027-01-04"}


@pytest.mark.parametrize("words, problem", [
    (["general"], "“general” is not a channel: mention it (#general), or say “digest here”."),
    (["<channel:0>", "at", "4pm"], "“4pm” is not a time of day: write it as 16:00."),
    (["<channel:0>", "at", "25:00"], "“25:00” is not a time of day: write it as 16:00."),
    (["<channel:0>", "tz", "Mars/Base"], "“Mars/Base” is not a time zone."),
    (["<channel:0>", "<channel:1>"], "Name one channel, then optionally a time and a time zone."),
    (["<channel:0>", "at"], "Say what “at” is."),
    (["at", "16:00"], "Name the channel the digest goes to first."),
    (["off", "now"], "`digest off` takes no more words."),
])
def test_bad_words_say_what_is_wrong_and_show_the_usage(ctx, words, problem):
    from handlers import registry

    reply = registry.run_command(ctx, BOB, " ".join(["digest", *words]), named=Named(channels=("C1", "C2")))
    assert not reply.ok
    assert problem in reply.text
    assert reply.text.endswith("Usage: digest #channel [at 16:00] [tz Europe/Berlin] | digest off")
    with ctx.db.transaction(read_only=True) as s:
        assert s.get(Setting, "digest") is None
