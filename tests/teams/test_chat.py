"""TeamsChat keeps the ChatPort contract against a Bot Connector service (the fake, on 127.0.0.1):
proactive posts into the chosen channel, threads, in-place edits, delivery marks, and errors the
delivery worker can act on."""

from __future__ import annotations

import pytest
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference

from bot.config import Settings
from bot.teams.adapter import make_adapter
from bot.teams.chat import TeamsChat
from handlers import channels
from handlers.base import Actor, Button, Card, DeliveryError, DeliveryMark, MessageRef, ThreadRef
from tests.fakes.teams_connector import BOT_ID, GENERAL, SUPPORT, TENANT, FakeConnector, card_actions, card_text

CARD = Card(title="#7 · Login broken", body="I cannot log in.", fields=(("From", ("bo@example.com",)),),
            status=("🟢 Open: nobody has claimed it yet.",), actions=(Button("Claim", "ticket.claim", "7"),),
            accent="open")


@pytest.fixture
async def connector():
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


@pytest.fixture
def chat(ctx):
    return TeamsChat(make_adapter(Settings(teams=True)), "", ctx)


def choose(ctx, connector: FakeConnector) -> None:
    """What `@Pitchin tickets here` stores: the channel's conversation reference, as botbuilder serializes it."""
    place = ConversationReference(
        channel_id="msteams", service_url=connector.url, bot=ChannelAccount(id=BOT_ID, name="Pitchin"),
        conversation=ConversationAccount(id=SUPPORT, is_group=True, conversation_type="channel", tenant_id=TENANT))
    channels.set_ticket_channel(ctx, Actor("teams", "29:ann", "Ann", tenant=TENANT), "teams", place.serialize(), SUPPORT)


async def test_without_a_channel_the_post_waits_and_says_how_to_choose_one(chat):
    with pytest.raises(DeliveryError) as exc:
        await chat.post_ticket(CARD)
    assert "@Pitchin tickets here" in str(exc.value) and exc.value.retry_after and not exc.value.permanent


async def test_post_thread_update_and_marks(ctx, chat, connector):
    choose(ctx, connector)
    thread = await chat.post_ticket(CARD)
    (created,) = connector.calls_to("create")
    assert thread == ThreadRef("teams", TENANT, SUPPORT, created.new_id)
    assert card_actions(created.card) == [{"action": "ticket.claim", "ticket_id": 7}]

    said = await chat.post_in_thread(thread, "📨 The customer wrote:\n<at>Bo</at> *still* broken")
    (sent,) = connector.calls_to("send")
    assert sent.conversation_id == f"{SUPPORT};messageid={thread.thread_id}" and "replyToId" not in sent.body
    assert sent.body["textFormat"] == "plain" and sent.text.endswith("<at>Bo</at> *still* broken")  # as written
    assert said == MessageRef("teams", TENANT, SUPPORT, sent.new_id, thread.thread_id)

    await chat.update_ticket(thread, Card(title=CARD.title, status=("🔒 Closed.",), accent="closed"))
    (update,) = connector.calls_to("update")
    assert update.activity_id == thread.thread_id and "🔒 Closed." in card_text(update.card)

    # a delivery mark redraws the reply's note when there is one, and says it in the thread when not
    employee = MessageRef("teams", TENANT, SUPPORT, "ann-msg", thread.thread_id)
    await chat.mark_delivery(DeliveryMark(employee, "sent", "✅ Sent to bo@example.com by email.", receipt=said))
    redrawn = connector.calls_to("update")[-1]
    assert redrawn.activity_id == said.message_id and "✅ Sent to bo@example.com" in card_text(redrawn.card)
    await chat.mark_delivery(DeliveryMark(employee, "failed"))
    told = connector.calls_to("send")[-1]
    assert told.thread == thread.thread_id and "Not delivered to the customer yet" in told.text


async def test_connector_errors_become_delivery_errors(ctx, chat, connector):
    choose(ctx, connector)
    thread = await chat.post_ticket(CARD)
    with pytest.raises(DeliveryError) as gone:
        await chat.update_ticket(ThreadRef("teams", TENANT, SUPPORT, "no-such-message"), CARD)
    assert "HTTP 404" in str(gone.value) and gone.value.permanent  # trying again will not bring it back
    await connector.stop()
    with pytest.raises(DeliveryError) as down:
        await chat.post_in_thread(thread, "hello?")
    assert "could not reach Teams" in str(down.value) and not down.value.permanent


async def test_the_newest_service_url_from_teams_is_used(ctx, chat, connector):
    choose(ctx, connector)
    moved = await FakeConnector().start()
    try:
        chat.remember_service_url(TENANT, moved.url)
        await chat.post_ticket(CARD)
        assert len(moved.calls_to("create")) == 1 and connector.calls == []
    finally:
        await moved.stop()


async def test_a_post_in_another_channel_starts_its_own_thread_there(ctx, chat, connector):
    with pytest.raises(DeliveryError) as exc:  # the way to that organisation is the stored ticket channel
        await chat.post_to_channel(GENERAL, "Ann is on support duty today.")
    assert "@Pitchin tickets here" in str(exc.value) and not exc.value.permanent
    choose(ctx, connector)
    posted = await chat.post_to_channel(GENERAL, "Ann is on support duty today. <at>everyone</at>")
    (created,) = connector.calls_to("create")
    assert created.body["channelData"] == {"channel": {"id": GENERAL}} and created.body["isGroup"]
    assert created.activity["textFormat"] == "plain" and created.text.endswith("<at>everyone</at>")  # as written
    assert posted == MessageRef("teams", TENANT, GENERAL, created.new_id, created.new_id)

    await chat.direct(TENANT, "29:ann", "", CARD)
    personal = connector.calls_to("send")[-1]
    assert card_actions(personal.card) == [{"action": "ticket.claim", "ticket_id": 7}]


async def test_a_conversation_the_bot_was_removed_from_is_refused_for_good(ctx, chat, connector):
    choose(ctx, connector)
    connector.fail("create", status=403)
    with pytest.raises(DeliveryError) as refused:
        await chat.post_to_channel(GENERAL, "hello?")
    assert "HTTP 403" in str(refused.value) and refused.value.permanent
