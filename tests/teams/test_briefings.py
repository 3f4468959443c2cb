"""Briefings through Teams: `@Pitchin department add … here` and `@Pitchin brief …` activities, the
briefing shown to the asker with its buttons as Action.Submit, and Post to the channel clicked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.fakes.teams_connector import SUPPORT, card_actions, card_text
from tests.handlers.briefing_helpers import CARDS, PASSWORDS, REFUNDS, background, people, seed
from tests.teams.stack import ANN
from tests.teams.test_rotations import command


async def test_department_here_brief_and_post_to_the_channel(teams_stack):
    s = teams_stack
    await s.choose_channel()
    two_days_ago = datetime.now(timezone.utc) - timedelta(days=2)
    seed(s.pitchin.db, people("refund", REFUNDS[:6], two_days_ago) + people("card", CARDS[:3], two_days_ago)
         + people("pw", PASSWORDS[:2], two_days_ago) + background(two_days_ago, 1))

    said = await command(s, ANN, "department add Support here weekly fri 16:00", zone="Asia/Tokyo")
    assert f"Department Support added: its briefing goes to #{SUPPORT} every Fri 16:00 Asia/Tokyo." in said
    said = await command(s, ANN, "department add Support here")
    assert "There is already a department “Support”" in said and "Usage: @Pitchin department add" in said

    activity = s.acts.message(ANN, "brief Support", mention=True)
    status, _ = await s.send(activity)
    assert status in (200, 201)
    (answer,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == activity["id"])
    shown = answer.text + "\n" + card_text(answer.card)
    assert "📣 What customers said, for Support" in shown and "· 6 customers (new this week)" in shown
    (post,) = [d for d in card_actions(answer.card) if d.get("action") == "briefing.post"]

    click = await s.submit(ANN, post, answer.new_id or "reply-1")
    (told,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == click["id"])
    assert f"Queued in #{SUPPORT}" in told.text
    (posted,) = await s.teams.wait_for("create", where=lambda c: "What customers said" in card_text(c.card))
    assert posted.channel == SUPPORT
    assert "6 customers (new this week)" in card_text(posted.card)
