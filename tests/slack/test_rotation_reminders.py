"""Rotations on Slack with the real clock, end to end: a real Pitchin (HTTP server, Bolt app,
scheduler, delivery worker) and the fake Slack Web API. A rotation created by a signed
`/pitchin rotation create` whose shift starts at the next minute sends its reminder DM (with the unclaimed ticket's link) and its channel post within two
minutes, and sets its user group; with PITCHIN_ESCALATE_MINUTES=1 the unclaimed ticket reaches the
person on duty, with a Claim button that works, within three minutes."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from storage.models import Identity, Ticket
from tests.slack.test_ticket_loop import block_texts, buttons
from tests.stack import CHANNEL, raw_mail, start_stack, stop_stack
from tests.test_rotation_processes import noon_zone

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def stack(sqlite_url):
    s = await start_stack(sqlite_url, scheduler=True, escalate_minutes=1)
    yield s
    await stop_stack(s)


def to(user: str, containing: str):
    return lambda c: c.args.get("channel") == user and containing in c.args.get("text", "") and c.ok


async def test_a_rotation_starting_in_a_minute_reminds_and_escalates_through_slack(stack):
    status, body = await stack.post_email(raw_mail(subject="Refund please"))
    assert status == 202
    arrived = time.monotonic()
    root = (await stack.ticket_post()).response["ts"]
    stack.slack.set_user("UANN", "Ann", "ann@acme.test")

    now = datetime.now(timezone.utc)
    zone, _ = noon_zone(now)  # the shift runs from the next minute to 23:00 there, whenever the test runs
    next_minute = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)  # at most a minute away
    at = next_minute.astimezone(timezone(timedelta(hours=12 - now.hour))).strftime("%H:%M")
    created = time.monotonic()
    status, response_id = await stack.command(
        "UANN", f"rotation create support <@UANN|ann> days mon-sun at {at} until 23:00 tz {zone} channel <#CROTA|rota>")
    assert status == 200 and "Rotation support created" in (await stack.response(response_id))["text"]
    status, response_id = await stack.command("UANN", "rotation usergroup support <!subteam^S0SUPPORT|@support-today>")
    assert status == 200 and "follows whoever is on duty" in (await stack.response(response_id))["text"]
    with stack.pitchin.db.transaction(read_only=True) as s:
        ann = s.exec(select(Identity.person_id).where(Identity.user_id == "UANN")).one()

    reminder = (await stack.slack.wait_for("chat.postMessage", where=to("UANN", "on support today"),
                                           timeout=120))[0]
    reminded = time.monotonic() - created
    assert reminded < 120
    link = f"https://slack.com/archives/{CHANNEL}/p{root.replace('.', '')}"
    assert f"#{body['ticket_id']} · Refund please · {link}" in reminder.args["text"]
    post = (await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == "CROTA",
                                       timeout=max(1, 120 - (time.monotonic() - created))))[0]
    assert "Today on support: Ann (until 23:00)" in post.args["text"]
    assert "<@UANN>" in block_texts(post.args["blocks"])  # mentioned, so Ann is pinged
    group = (await stack.slack.wait_for("usergroups.users.update", timeout=10))[0]
    assert (group.args["usergroup"], group.args["users"]) == ("S0SUPPORT", "UANN")

    escalation = (await stack.slack.wait_for("chat.postMessage", where=to("UANN", "Unclaimed for 1 working minute"),
                                             timeout=max(1, 180 - (time.monotonic() - arrived))))[0]
    escalated = time.monotonic() - arrived
    print(f"reminder {reminded:.0f} s after the rotation was made; escalation {escalated:.0f} s after the ticket came")
    assert escalated < 180
    assert buttons(escalation.args["blocks"]) == ["ticket.claim"] and link in block_texts(escalation.args["blocks"])
    status, _ = await stack.click("ticket.claim", str(body["ticket_id"]), "UANN", escalation.response["ts"])
    assert status == 200
    deadline = time.monotonic() + 10
    while True:
        with stack.pitchin.db.transaction(read_only=True) as s:
            if s.exec(select(Ticket.claimed_by_id).where(Ticket.id == body["ticket_id"])).first() == ann:
                break
        assert time.monotonic() < deadline, "the Claim button in the DM did not claim the ticket"
        await asyncio.sleep(0.05)
    assert stack.slack.violations == []
