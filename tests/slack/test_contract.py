"""Every Slack Web API method Pitchin calls, with every argument it passes, is in Slack's own spec."""

from __future__ import annotations

import pytest

from tests.fakes.slack_contract import SKIP_REASON, SlackContract, contract_available
from tests.stack import LaterClock, raw_mail

pytestmark = pytest.mark.skipif(not contract_available(), reason=SKIP_REASON)


async def test_a_whole_ticket_loop_uses_only_documented_methods_and_arguments(stack):
    stack.smtp.stop()  # a failed delivery too, so the ⚠️ path is exercised
    _, body = await stack.post_email(raw_mail(body="x" * 5000))  # long: the full text goes to the thread
    ticket = str(body["ticket_id"])
    root_ts = (await stack.ticket_post()).response["ts"]
    await stack.click("ticket.claim", ticket, "UANN", root_ts)
    _, ann_ts = await stack.say_in_thread("UANN", "Looking into it", root_ts)
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "warning")
    stack.smtp.start()
    stack.pitchin.ctx.clock = LaterClock()
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["name"] == "white_check_mark", timeout=15)
    await stack.slack.wait_for("reactions.remove")
    await stack.post_email(raw_mail(body="thanks", message_id="<m2@mail.example.com>", in_reply_to="<m1@mail.example.com>"))
    await stack.slack.wait_for("chat.postMessage", count=2, where=lambda c: c.args.get("thread_ts") == root_ts)
    _, rid = await stack.command("UANN", "list")
    await stack.response(rid)
    await stack.click("ticket.close", ticket, "UANN", root_ts)
    await stack.slack.wait_for("chat.update", count=2)

    used = {c.method for c in stack.slack.calls if c.method != "response_url"}
    assert {"auth.test", "chat.postMessage", "chat.update", "chat.postEphemeral", "reactions.add",
            "reactions.remove", "users.info"} <= used
    contract = SlackContract()
    problems = [f"{c.method}: {p}" for c in stack.slack.calls if c.method != "response_url"
                for p in contract.check(c.method, c.args)]
    assert problems == [] and stack.slack.violations == []

