"""AI drafts in Teams, end to end through /api/messages, the fake Bot Connector and the fake OpenAI API:
a channel has no private replies, so the draft goes to the requester's personal chat with Pitchin and
never into the channel; Send there posts the reply in the ticket's thread and it goes out through the
normal reply path."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from storage.models import ReplyDraft
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.teams_connector import SUPPORT, card_actions, personal_conversation
from tests.stack import raw_mail
from tests.teams.stack import ANN, start_teams_stack, stop_teams_stack
from tests.teams.test_ticket_loop import data_of

DRAFT = "Hi {customer.first_name|there}, sorry for the double charge: we are checking it now."


def box(call) -> str:
    """The text in the draft card's box, to change before sending."""
    return next(e["value"] for e in call.card["body"] if e.get("id") == "reply_text")


@pytest.fixture
def openai():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
async def stack(sqlite_url, openai):
    s = await start_teams_stack(sqlite_url, openai_api_key=openai.api_key, openai_base_url=openai.url)
    yield s
    await stop_teams_stack(s)


async def test_the_draft_goes_to_the_personal_chat_and_send_answers_the_customer(stack, openai):
    await stack.choose_channel()
    _, body = await stack.post_email(raw_mail())
    posted = await stack.ticket()
    root = posted.new_id
    assert [d["action"] for d in card_actions(posted.card)][-2:] == ["ai.draft", "ai.summarise"]
    await stack.submit(ANN, data_of(posted, "ticket.claim"), root)
    await stack.teams.wait_for("update", where=lambda c: c.activity_id == root)

    openai.answer({"reply": DRAFT, "sources": [], "needs_check": []})
    click = await stack.submit(ANN, data_of(posted, "ai.draft"), root)
    (shown,) = await stack.teams.wait_for("send", where=lambda c: c.conversation_id == personal_conversation(ANN[0]))
    assert "AI draft — check before sending" in shown.text
    assert box(shown) == "Hi Carol, sorry for the double charge: we are checking it now."
    # nothing about the draft in the channel: no reply to the click, nothing in the ticket's thread
    assert not [c for c in stack.teams.calls if c.channel == SUPPORT and "double charge: we are" in c.text]
    assert not [c for c in stack.teams.calls_to("reply") if c.activity_id == click["id"]]

    send = next(a for a in card_actions(shown.card) if a["action"] == "ai.send")
    edited = "Hi Carol, sorry for the double charge: we refunded the second one today."
    activity = stack.acts.personal(ANN, "")
    activity.pop("text")
    activity["value"] = {**send, "reply_text": edited}
    status, _ = await stack.send(activity)
    assert status in (200, 201)
    (reply,) = await stack.teams.wait_for("send", where=lambda c: c.thread == root and "refunded the second" in c.text)
    assert "from an AI draft they checked" in reply.text
    (mail,) = await stack.smtp.wait_for(1)
    assert edited in mail.text
    (told,) = await stack.teams.wait_for("reply", where=lambda c: c.activity_id == activity["id"])
    assert told.conversation_id == personal_conversation(ANN[0]) and "Sending to carol@example.com" in told.text
    with stack.pitchin.db.transaction() as session:
        (draft,) = session.exec(select(ReplyDraft)).all()
        assert draft.state == "edited" and draft.sent_text == edited
    assert "carol@example.com" not in json.dumps(openai.chat_requests())


async def test_the_typed_command_in_a_channel_says_only_where_the_draft_went(stack, openai):
    await stack.choose_channel()
    _, body = await stack.post_email(raw_mail())
    root = (await stack.ticket()).new_id
    openai.answer({"reply": DRAFT, "sources": [], "needs_check": []})
    said = await stack.say(ANN, f"draft {body['ticket_id']}", thread=root, mention=True)
    (answer,) = await stack.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    assert "personal chat" in answer.text and "double charge" not in answer.text
    (shown,) = await stack.teams.wait_for("send", where=lambda c: c.conversation_id == personal_conversation(ANN[0]))
    assert box(shown).startswith("Hi Carol, sorry for the double charge")
