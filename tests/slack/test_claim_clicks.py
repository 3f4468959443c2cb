"""Fifty people click Claim on the same Slack message at once: one wins, 49 are told who has it."""

from __future__ import annotations

import asyncio

from tests.stack import raw_mail


async def test_fifty_simultaneous_clicks_one_winner(any_stack):
    stack = any_stack
    _, body = await stack.post_email(raw_mail())
    ticket = str(body["ticket_id"])
    root_ts = (await stack.ticket_post()).response["ts"]

    users = [f"U{i:03d}" for i in range(50)]
    clicks = await asyncio.gather(*(stack.click("ticket.claim", ticket, u, root_ts, response_id=f"c-{u}") for u in users))
    assert all(status == 200 for status, _ in clicks)
    answers = {u: (await stack.response(f"c-{u}"))["text"] for u in users}

    winners = [u for u, text in answers.items() if text.startswith("You claimed")]
    assert len(winners) == 1
    winner = winners[0]
    assert all(text == f"#{ticket} is already claimed by <@{winner}>." for u, text in answers.items() if u != winner)
    updates = await stack.slack.wait_for("chat.update")
    assert f"Claimed by <@{winner}>" in str(updates[-1].args["blocks"])
