"""Teams refusals an admin must mend (Pitchin not in a team: 403, a deleted channel: 404
ConversationNotFound, refused credentials: 401) stop each job after one try and are explained once:
in the log, and in the ticket channel when the refused place is another one."""

from __future__ import annotations

import logging

from handlers import outbound
from tests.fakes.teams_connector import GENERAL, SUPPORT
from tests.slack.test_refusals import advice_lines, settled
from tests.stack import raw_mail


def queue_posts(stack, channel: str, count: int) -> None:
    ctx = stack.pitchin.ctx
    with ctx.db.transaction() as s:
        for i in range(count):
            outbound.post_to_channel(ctx, s, "teams", channel, f"Today's digest, part {i + 1}")


async def test_a_team_without_pitchin_is_explained_once_in_the_ticket_channel(teams_stack, caplog):
    stack = teams_stack
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    await stack.choose_channel()
    stack.teams.refuse("create", 403, "BotNotInConversationRoster", channel=GENERAL)
    queue_posts(stack, GENERAL, 3)
    jobs = await settled(stack)

    assert len(stack.teams.calls_to("create")) == 4  # one try for each of the three, and the one notice
    assert [j.state for j in jobs if j.payload.get("channel") == GENERAL] == ["failed"] * 3
    words = f"Pitchin is not a member of Teams channel {GENERAL} (HTTP 403): add the Pitchin app to its team"
    assert len(advice_lines(caplog, words)) == 1
    (told,) = [c for c in stack.teams.calls_to("create") if c.ok]
    assert told.channel == SUPPORT and words in told.text and told.text.startswith("⚠️ Teams refused Pitchin (HTTP 403).")


async def test_a_deleted_ticket_channel_stops_the_ticket_post_and_says_how_to_choose_another(teams_stack, caplog):
    stack = teams_stack
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    await stack.choose_channel()
    stack.teams.refuse("*", 404, "ConversationNotFound", channel=SUPPORT)
    await stack.post_email(raw_mail())
    await stack.post_email(raw_mail(subject="Second", message_id="<m2@mail.example.com>"))
    jobs = await settled(stack)

    assert len(stack.teams.calls_to("create")) == 2  # the two tickets, once each; nowhere to tell
    assert [j.state for j in jobs] == ["failed", "failed"]
    (advice,) = advice_lines(caplog, "(HTTP 404, ConversationNotFound)")
    assert advice.endswith(f"The Teams ticket channel {SUPPORT} is gone (HTTP 404, ConversationNotFound): the "
                           "channel or its team was deleted; choose another channel with `@Pitchin tickets here`. "
                           "(said once; later jobs refused alike end without it)")


async def test_refused_credentials_stop_every_job_and_are_logged_once(teams_stack, caplog):
    stack = teams_stack
    caplog.set_level(logging.ERROR, logger="pitchin.delivery")
    await stack.choose_channel()
    stack.teams.refuse("*", 401, "Unauthorized")
    await stack.post_email(raw_mail())
    queue_posts(stack, GENERAL, 2)
    jobs = await settled(stack)

    assert len(stack.teams.calls_to("create")) == 3
    assert {j.state for j in jobs} == {"failed"} and len(jobs) == 3
    (advice,) = advice_lines(caplog, "MICROSOFT_APP_PASSWORD")
    assert "The Bot Framework refused Pitchin's credentials (HTTP 401)" in advice
