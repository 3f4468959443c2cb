"""The daily digest through Teams: `@Pitchin digest here …` in the channel, a customer's mail answered
in its thread, and the next day's digest card in the channel with a Teams link to that thread and
without the customer's address; `@Pitchin digest` shows it, `@Pitchin digest off` stops it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import digest_jobs
from tests.conftest import FakeClock
from tests.fakes.teams_connector import SUPPORT, card_text
from tests.handlers.rotation_helpers import set_clock
from tests.stack import raw_mail
from tests.teams.stack import ANN, BOB
from tests.teams.test_rotations import command

BERLIN = ZoneInfo("Europe/Berlin")


async def test_set_in_teams_the_next_days_digest_card_links_the_thread(teams_stack):
    s = teams_stack
    await s.choose_channel()
    said = await command(s, ANN, "digest here at 09:00 tz Europe/Berlin")
    assert "Every day at 09:00 Europe/Berlin, five random customer conversations answered the day before go to " \
           "this channel: " in said
    status, body = await s.post_email(raw_mail(body="Where is my refund? Call +44 20 7946 0958."))
    assert status == 202
    root = (await s.ticket()).new_id
    await s.say(ANN, "It went out this morning.", thread=root)
    await s.smtp.wait_for(1)

    today = datetime.now(BERLIN).date()
    clock = FakeClock()
    set_clock(clock, datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=BERLIN).replace(hour=9))
    assert digest_jobs.tick(replace(s.pitchin.ctx, clock=clock)) == 1
    (post,) = await s.teams.wait_for("create", where=lambda c: "customer conversation" in card_text(c.card))
    assert post.channel == SUPPORT
    shown = card_text(post.card)
    assert f"Carol asked (#{body['ticket_id']} · Double charge):" in shown
    assert "“Where is my refund? Call [number removed].”" in shown and "Ann Example answered:" in shown
    assert "https://teams.microsoft.com/l/message/" in shown and f"parentMessageId={root}" in shown
    assert "carol@example.com" not in shown and "7946" not in shown

    assert (await command(s, BOB, "digest")).endswith(
        "The daily digest goes to this channel at 09:00 Europe/Berlin every day, set by Ann Example.\n"
        "Usage: digest #channel [at 16:00] [tz Europe/Berlin] | digest off")
    assert (await command(s, BOB, "digest off")).endswith("The daily digest is off: nothing more goes to this channel.")
