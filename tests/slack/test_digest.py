"""The daily digest through Slack: a signed `/pitchin digest <#C…|all-company>` in the asker's profile
zone, a customer's mail answered in its thread, and the next day's digest posted to the channel with
a link to that thread and without the customer's address; `/pitchin digest off`; a typo's usage."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import digest_jobs
from tests.conftest import FakeClock
from tests.handlers.rotation_helpers import set_clock
from tests.slack.test_ticket_loop import block_texts
from tests.stack import CHANNEL, raw_mail

NEW_YORK = ZoneInfo("America/New_York")


async def say(stack, user: str, text: str) -> str:
    status, response_id = await stack.command(user, text)
    assert status == 200
    return (await stack.response(response_id))["text"]


async def test_set_in_slack_the_next_days_digest_links_the_thread_and_hides_the_address(stack):
    stack.slack.set_user("UANN", "Ann", "ann@acme.test", tz="America/New_York")
    said = await say(stack, "UANN", "digest <#CALL|all-company> at 16:00")
    assert said.startswith("Every day at 16:00 America/New_York (your time zone), five random customer conversations "
                           "answered the day before go to #CALL")

    status, body = await stack.post_email(raw_mail(body="My card was charged twice. Mail me at carol@example.com."))
    assert status == 202
    root = (await stack.ticket_post()).response["ts"]
    await stack.say_in_thread("UANN", "We refunded the second charge.", root)
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args.get("name") == "white_check_mark", timeout=15)

    # tomorrow at 16:00 in New York: the digest of today's conversations
    clock = FakeClock()
    today = datetime.now(NEW_YORK).date()
    post_day = f"{today:%a} {today.day} {today:%b}"
    set_clock(clock, datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=NEW_YORK).replace(hour=16))
    assert digest_jobs.tick(replace(stack.pitchin.ctx, clock=clock)) == 1
    (post,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == "CALL" and c.ok)
    shown = block_texts(post.args["blocks"])
    link = f"https://slack.com/archives/{CHANNEL}/p{root.replace('.', '')}"
    assert shown == (f"*💬 The one customer conversation answered on {post_day}*\n"
                     f"Carol asked (#{body['ticket_id']} · Double charge):\n“My card was charged twice. Mail me at "
                     f"[address removed].”\nAnn answered:\n“We refunded the second charge.”\n{link}\n"
                     "Picked at random. Customers are shown by first name; addresses and long numbers are left out.")

    assert await say(stack, "UANN", "digest off") == "The daily digest is off: nothing more goes to #CALL."


async def test_a_typo_gets_the_slack_usage_line(stack):
    said = await say(stack, "UANN", "digest all-company at 4pm")
    assert said == ("“all-company” is not a channel: mention it (#general), or say “digest here”.\n"
                    "Usage: /pitchin digest #channel [at 16:00] [tz Europe/Berlin] | digest off")
