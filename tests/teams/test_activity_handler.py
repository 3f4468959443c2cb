"""Pitchin's Teams ActivityHandler through botbuilder's own TestAdapter: activities in, what the bot
says (and updates) out, the core's state in a real database."""

from __future__ import annotations

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity
from sqlmodel import select

from bot.teams.bot import PitchinBot
from bot.teams.chat import TeamsChat
from bot.teams.inbound import People, clean_text
from handlers import channels, outbound, tickets
from handlers.base import InboundMessage, ThreadRef, utcnow
from storage.models import OutboxJob, TicketMessage
from tests.fakes.teams_connector import BOT_ID, GENERAL, SUPPORT, TENANT, Activities, FakeConnector, card_actions, card_text
from tests.teams.stack import ANN, BOB

ROOT = "1800000000777"  # the ticket card's activity id: its thread's root


class Harness:
    """A TestAdapter running PitchinBot; ``said`` holds what the bot sent, ``updated`` what it edited."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.adapter = TestAdapter()
        self.bot = PitchinBot(ctx, TeamsChat(self.adapter, "", ctx), People())
        self.adapter.logic = self.bot.on_turn
        self.acts = Activities(FakeConnector())  # only its activity builders; nothing listens here
        self.acts.connector.port = 9  # the serviceUrl the activities carry; never called through TestAdapter

    async def send(self, activity: dict) -> list[Activity]:
        """Send one activity; return what the bot sent in answer (the turn runs to its end)."""
        self.adapter.activity_buffer.clear()
        await self.adapter.send(Activity().deserialize(activity))
        return list(self.adapter.activity_buffer)

    @property
    def updated(self) -> list[Activity]:
        return self.adapter.updated_activities


def text_of(activity: Activity) -> str:
    if activity.attachments:
        return card_text(activity.attachments[0].content)
    return activity.text or ""


@pytest.fixture
def teams(ctx):
    ctx.platforms = ("teams",)
    return Harness(ctx)


def open_ticket(ctx) -> int:
    """A customer's ticket whose card is already in the support channel (thread ROOT)."""
    result = tickets.intake(ctx, InboundMessage(
        source="email", external_key="email:<t1@example.com>", sender_email="carol@example.com",
        sender_name="Carol", subject="Double charge", text="Charged twice", received_at=utcnow(),
        email_message_id="<t1@example.com>"))
    outbound.anchor(ctx, result.ticket_id, ThreadRef("teams", TENANT, SUPPORT, ROOT))
    return result.ticket_id


async def test_greets_once_when_added_and_not_for_other_people(teams):
    others = teams.acts.bot_added()
    others["membersAdded"] = [{"id": "29:new-hire"}]
    assert await teams.send(others) == []
    (hello,) = await teams.send(teams.acts.bot_added())
    assert "tickets here" in text_of(hello) and hello.conversation.id == GENERAL
    assert await teams.send(teams.acts.installed()) == []  # the same installation, announced again


async def test_help_needs_a_mention_in_a_channel_but_not_in_a_personal_chat(teams):
    assert await teams.send(teams.acts.message(ANN, "help")) == []  # people talking among themselves
    (helped,) = await teams.send(teams.acts.message(ANN, "help", mention=True))
    assert "tickets here" in text_of(helped) and "list" in text_of(helped)
    personal = teams.acts.message(ANN, "help")
    personal["conversation"] = {"id": "a:1on1-ann", "conversationType": "personal", "tenantId": TENANT}
    (helped,) = await teams.send(personal)
    assert "claim <ticket number>" in text_of(helped)


async def test_tickets_here_stores_the_channel_reference(teams):
    (answer,) = await teams.send(teams.acts.message(ANN, "tickets  Here", mention=True))
    assert "From now on" in text_of(answer)
    place = channels.ticket_channel(teams.ctx, "teams")
    assert place["conversation"]["id"] == SUPPORT  # the channel, not the thread the command started
    assert place["serviceUrl"] == teams.acts.connector.url and place["bot"]["id"] == BOT_ID
    (again,) = await teams.send(teams.acts.message(BOB, "tickets here", mention=True))
    assert "already" in text_of(again)
    personal = teams.acts.message(ANN, "tickets here")
    personal["conversation"] = {"id": "a:1on1-ann", "conversationType": "personal", "tenantId": TENANT}
    (refused,) = await teams.send(personal)
    assert "in the team channel" in text_of(refused)


async def test_a_reply_in_a_ticket_thread_is_an_answer_without_the_mention(teams):
    ticket = open_ticket(teams.ctx)
    said = teams.acts.message(ANN, "Pitchin will email you a receipt.", thread=ROOT, mention=True)
    (undo,) = await teams.send(said)
    assert "You claimed" in text_of(undo) and "Sending to carol@example.com" in text_of(undo)
    assert card_actions(undo.attachments[0].content)[0]["action"] == "reply.undo"
    assert undo.conversation.id == f"{SUPPORT};messageid={ROOT}" and undo.reply_to_id == said["id"]
    with teams.ctx.db.transaction() as session:
        reply = session.exec(select(TicketMessage).where(TicketMessage.kind == "reply")).one()
    assert reply.ticket_id == ticket and reply.text == "Pitchin will email you a receipt."  # only the mention went
    assert reply.chat_ref["message_id"] == said["id"] and reply.chat_ref["thread_id"] == ROOT
    assert reply.receipt_ref["channel"] == SUPPORT and reply.receipt_ref["thread_id"] == ROOT
    assert reply.receipt_ref["message_id"]  # the Undo card, redrawn when the mail goes out

    # the same activity again (Teams retries) changes nothing; the bot's own messages are ignored
    assert await teams.send(said) == []
    mine = teams.acts.message(ANN, "📨 The customer wrote: …", thread=ROOT)
    mine["from"] = {"id": BOT_ID, "name": "Pitchin"}
    assert await teams.send(mine) == []
    with teams.ctx.db.transaction() as session:
        assert len(session.exec(select(TicketMessage)).all()) == 2  # the customer's, and one reply


async def test_a_mention_with_a_command_in_a_ticket_thread_is_a_command(teams):
    open_ticket(teams.ctx)
    (listed,) = await teams.send(teams.acts.message(ANN, "list", thread=ROOT, mention=True))
    assert "Double charge" in text_of(listed)
    with teams.ctx.db.transaction() as session:
        assert session.exec(select(TicketMessage).where(TicketMessage.kind != "customer")).all() == []


async def test_card_clicks_claim_once_and_the_loser_is_told(teams):
    ticket = open_ticket(teams.ctx)
    claim = {"action": "ticket.claim", "ticket_id": ticket}
    assert await teams.send(teams.acts.submit(ANN, claim, ROOT)) == []  # the card itself will show it
    with teams.ctx.db.transaction() as session:
        kinds = [j.kind for j in session.exec(select(OutboxJob).order_by(OutboxJob.id))]
    assert kinds[-1] == "chat.update_ticket"
    (told,) = await teams.send(teams.acts.submit(BOB, claim, ROOT))
    assert f"<at>{BOB[1]}</at> #{ticket} is already claimed by <at>{ANN[1]}</at>." in text_of(told)
    (unknown,) = await teams.send(teams.acts.submit(BOB, {"action": "ticket.explode", "ticket_id": ticket}, ROOT))
    assert "does not know the button" in text_of(unknown)


async def test_undo_redraws_the_clicked_card(teams):
    open_ticket(teams.ctx)
    teams.ctx.undo_seconds = 60
    (undo,) = await teams.send(teams.acts.message(ANN, "Oops, wrong ticket", thread=ROOT))
    data = card_actions(undo.attachments[0].content)[0]
    assert await teams.send(teams.acts.submit(ANN, data, "undo-card-id", thread=ROOT)) == []
    (redrawn,) = teams.updated
    assert redrawn.id == "undo-card-id" and "Taken back" in text_of(redrawn)
    assert card_actions(redrawn.attachments[0].content) == []


@pytest.mark.parametrize("text, entities, expected", [
    ("<at>Pitchin</at> Pitchin will email you", None, "Pitchin will email you"),
    ("<at>Pitchin</at> ask <at>Bob Builder</at> about it", None, "ask Bob Builder about it"),
    ("Thanks <at>Pitchin</at>!", [{"type": "mention", "mentioned": {"id": BOT_ID, "name": "Pitchin"}}], "Thanks !"),
    ("no mention here", [], "no mention here"),
])
def test_clean_text_removes_only_the_bots_mention(text, entities, expected):
    activity = Activities(FakeConnector()).message(ANN, "")
    activity["text"] = text
    activity["entities"] = entities if entities is not None else [
        {"type": "mention", "text": "<at>Pitchin</at>", "mentioned": {"id": BOT_ID, "name": "Pitchin"}}]
    assert clean_text(Activity().deserialize(activity)) == expected
