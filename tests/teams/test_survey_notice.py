"""A bad survey answer reaches the ticket's thread on every platform: on Teams (botbuilder, the fake
Bot Connector) the colleague who answered is mentioned and Reopen is one click on the card; on Slack
(the fake Web API) the same card, the person named where Slack does not know them."""

from __future__ import annotations

import pytest

from handlers import survey_answers, surveys
from storage.models import Ticket
from tests.conftest import FakeClock
from tests.fakes.teams_connector import card_actions, card_text
from tests.slack.test_ticket_loop import block_texts, buttons
from tests.stack import raw_mail
from tests.teams.stack import ANN, start_teams_stack, stop_teams_stack


@pytest.fixture
async def both(sqlite_url):
    s = await start_teams_stack(sqlite_url, with_slack=True)
    s.pitchin.ctx.public_url = s.base
    s.pitchin.ctx.clock = FakeClock()  # real time, until a test moves it on
    await s.choose_channel()
    yield s
    await stop_teams_stack(s)


def survey_link(stack, ticket_id: int, rating: str) -> str:
    with stack.pitchin.db.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        _, token = surveys.open_survey(session, ticket, ticket.claimed_by_id, stack.pitchin.ctx.now())
    return surveys.survey_link(stack.base, token, rating)


async def test_not_good_mentions_the_answerer_on_teams_with_reopen_and_shows_on_slack(both):
    s = both
    _, body = await s.post_email(raw_mail(subject="<at>Everyone</at> refund"))
    ticket = body["ticket_id"]
    root = (await s.ticket()).new_id
    slack_ts = (await s.ticket_post()).response["ts"]
    await s.submit(ANN, {"action": "ticket.claim", "ticket_id": ticket}, root)
    await s.say(ANN, "Refunded.", thread=root)
    await s.smtp.wait_for(1)
    await s.submit(ANN, {"action": "ticket.close", "ticket_id": ticket}, root)
    await s.teams.wait_for("update", where=lambda c: c.activity_id == root and "Closed by" in c.text)

    async with s.http.get(survey_link(s, ticket, "not_good")) as resp:
        assert resp.status == 200 and "You said: Not good" in await resp.text()
    # a rating from the mail's link is held a few seconds (a mail scanner's would be taken back)
    s.pitchin.ctx.clock.advance(survey_answers.SCANNER_SECONDS)
    s.pitchin.ctx.wake()

    (notice,) = await s.teams.wait_for("send", where=lambda c: c.thread == root and "Survey answer" in c.text)
    shown = card_text(notice.card)
    assert f"For <at>{ANN[1]}</at>: the customer is not happy with this answer." in shown
    assert notice.card["msteams"]["entities"] == [
        {"type": "mention", "text": f"<at>{ANN[1]}</at>", "mentioned": {"id": ANN[0], "name": ANN[1]}}]
    # the subject is the customer's: a verbatim run, never markup that could mention anyone
    assert not any(b["type"] == "TextBlock" and "Everyone" in b["text"] for b in notice.card["body"])
    assert card_actions(notice.card) == [{"action": "ticket.reopen", "ticket_id": ticket}]
    mirrored = await s.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == slack_ts
                                      and "Survey answer" in block_texts(c.args.get("blocks")))
    assert f"For {ANN[1]}: the customer is not happy" in block_texts(mirrored[0].args["blocks"])
    assert buttons(mirrored[0].args["blocks"]) == ["ticket.reopen"]

    # one click on the card reopens the ticket
    await s.submit(ANN, card_actions(notice.card)[0], notice.new_id, thread=root)
    redrawn = await s.teams.wait_for("update", count=3, where=lambda c: c.activity_id == root)  # claimed, closed, reopened
    assert f"Claimed by <at>{ANN[1]}</at>" in card_text(redrawn[-1].card)
    with s.pitchin.db.transaction(read_only=True) as session:
        assert session.get(Ticket, ticket).status == "open"
