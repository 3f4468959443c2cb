"""Briefings through Slack: signed /pitchin commands naming the channel and a manager as Slack
sends them, `brief` answered to the asker only with its buttons, a "Not ours → Billing" click and
the Post to #channel click that puts the same briefing in the channel, with links to the threads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.handlers.briefing_helpers import CARDS, PASSWORDS, REFUNDS, background, people, seed


async def say(stack, user: str, text: str) -> dict:
    status, response_id = await stack.command(user, text)
    assert status == 200
    return await stack.response(response_id)


def buttons(answer: dict) -> dict[str, dict]:
    return {e["text"]["text"]: e for b in answer.get("blocks", []) for e in b.get("elements", [])
            if e.get("type") == "button"}


async def test_brief_with_its_buttons_a_move_and_post_to_the_channel(stack):
    stack.slack.set_user("UANN", "Ann", "ann@acme.test", tz="America/New_York")
    stack.slack.set_user("UBOB", "Bob", "bob@acme.test")
    two_days_ago = datetime.now(timezone.utc) - timedelta(days=2)
    seed(stack.pitchin.db, people("refund", REFUNDS[:6], two_days_ago) + people("card", CARDS[:3], two_days_ago)
         + people("pw", PASSWORDS[:2], two_days_ago) + background(two_days_ago, 1), platform="slack")

    answer = await say(stack, "UANN", "department add Billing <#CBILL|billing> <@UBOB|bob> about refunds money back")
    assert answer["text"].startswith("Department Billing added: its briefing goes to #CBILL every Mon 09:00 "
                                     "America/New_York. It hears the issues closest to “refunds money back”")
    assert "Its managers get a copy by DM: Bob." in answer["text"]
    answer = await say(stack, "UANN", "department add Support <#CSUPPORT|support>")
    assert answer["response_type"] == "ephemeral"

    answer = await say(stack, "UANN", "brief Support")
    assert answer["response_type"] == "ephemeral"  # only the asker sees it
    assert "📣 What customers said, for Support" in answer["text"]
    assert "· 6 customers (new this week)" in answer["text"]
    assert "https://slack.com/archives/CSUPPORT/p1700000" in answer["text"]
    shown = buttons(answer)
    assert {"1 · Not ours → Billing", "Post to #CSUPPORT"} <= set(shown)

    status, moved = await stack.click("briefing.move", shown["1 · Not ours → Billing"]["value"], "UANN", "1.0")
    assert status == 200
    moved = await stack.response(moved)
    assert "to Billing: from the next briefing on, issues like it go to Billing's briefing" in moved["text"]
    assert list(buttons(moved)) == ["Undo"]

    status, posted = await stack.click("briefing.post", shown["Post to #CSUPPORT"]["value"], "UANN", "1.0")
    assert (await stack.response(posted))["text"] == "Queued in #CSUPPORT: the briefing goes out in a moment."
    (post,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == "CSUPPORT")
    assert post.args["text"].startswith("📣 What customers said, for Support")
    body = "\n".join(b["text"]["text"] for b in post.args["blocks"] if b.get("type") == "section")
    assert "https://slack.com/archives/CSUPPORT/p1700000" in body and "@example.com" not in body
    assert "6 customers" not in body  # moved to Billing a moment ago: the posted one is composed now
