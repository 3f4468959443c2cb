"""Slack and Teams at once: every ticket is on both, and what happens on one shows on the other.
A person who uses both (the same email address) is one person to Pitchin."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.models import Identity, Person, TicketMessage
from tests.fakes.teams_connector import card_actions, card_text
from tests.slack.test_ticket_loop import block_texts, buttons
from tests.stack import raw_mail
from tests.teams.stack import ANN, BOB, start_teams_stack, stop_teams_stack


@pytest.fixture
async def both(sqlite_url):
    s = await start_teams_stack(sqlite_url, with_slack=True)
    s.slack.set_user("UBOB", "Bob Builder", "bob@acme.test")  # Bob on Slack; BOB is the same man on Teams
    s.slack.set_user("UCAT", "Cat Slackonly", "cat@acme.test")
    await s.choose_channel()
    yield s
    await stop_teams_stack(s)


def claim_data(card: dict) -> dict:
    return next(d for d in card_actions(card) if d["action"] == "ticket.claim")


async def test_claim_on_teams_shows_on_slack_and_close_on_slack_shows_on_teams(both):
    s = both
    _, body = await s.post_email(raw_mail())
    ticket = str(body["ticket_id"])
    slack_post = await s.ticket_post()
    teams_card = await s.ticket()
    slack_ts, root = slack_post.response["ts"], teams_card.new_id
    assert f"#{ticket} · Double charge" in block_texts(slack_post.args["blocks"])
    assert f"#{ticket} · Double charge" in card_text(teams_card.card)

    # Ann claims on Teams: the Slack message says so too
    await s.submit(ANN, claim_data(teams_card.card), root)
    update = (await s.slack.wait_for("chat.update", where=lambda c: c.args["ts"] == slack_ts))[-1]
    assert "Claimed by Ann Example" in block_texts(update.args["blocks"])
    assert buttons(update.args["blocks"]) == ["ticket.unclaim", "ticket.close", "reply.saved", "feedback.from_ticket"]
    # Cat, on Slack, is told who has it
    _, rid = await s.click("ticket.claim", ticket, "UCAT", slack_ts)
    assert "already claimed by Ann Example" in (await s.response(rid))["text"]

    # Cat closes it on Slack: the Teams card says so (by name: Cat has no Teams account to mention)
    await s.click("ticket.close", ticket, "UCAT", slack_ts)
    closed = await s.teams.wait_for("update", count=2, where=lambda c: c.activity_id == root)
    assert "Closed by **Cat Slackonly**." in card_text(closed[-1].card)
    assert [d["action"] for d in card_actions(closed[-1].card)] == ["ticket.reopen", "feedback.from_ticket"]


async def test_one_person_on_both_platforms_and_replies_show_on_both(both):
    s = both
    _, body = await s.post_email(raw_mail())
    ticket = str(body["ticket_id"])
    slack_ts = (await s.ticket_post()).response["ts"]
    root = (await s.ticket()).new_id

    # Bob claims on Slack; the Teams card names him (Teams does not know him yet)
    await s.click("ticket.claim", ticket, "UBOB", slack_ts)
    first = (await s.teams.wait_for("update", where=lambda c: c.activity_id == root))[-1]
    assert "Claimed by **Bob Builder**" in card_text(first.card)

    # Bob answers on Teams: the same person, so the claimer: it goes to the customer, not kept internal
    said = await s.say(BOB, "Refunded, sorry about that.", thread=root)
    (undo,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    assert "Sending to carol@example.com" in undo.text
    (mail,) = await s.smtp.wait_for(1)
    assert "Refunded, sorry about that." in mail.text
    with s.pitchin.db.transaction() as session:
        (reply,) = session.exec(select(TicketMessage).where(TicketMessage.kind == "reply")).all()
        bob = session.get(Person, reply.author_person_id)
        accounts = {(i.platform, i.user_id) for i in session.exec(select(Identity).where(Identity.person_id == bob.id))}
    assert (bob.name, bob.email) == ("Bob Builder", "bob@acme.test")
    assert accounts == {("slack", "UBOB"), ("teams", BOB[0])}
    # … and the Slack thread shows the answer; Teams shows it sent
    mirrored = await s.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == slack_ts)
    assert "Bob Builder answered carol@example.com" in mirrored[0].args["text"]
    assert "Refunded, sorry about that." in mirrored[0].args["text"]
    await s.teams.wait_for("update", where=lambda c: c.activity_id == undo.new_id and "✅ Sent" in c.text)
    assert not s.slack.calls_to("reactions.add")  # the Slack side has no message of Bob's to mark

    # a note written on Slack shows in the Teams thread, and reaches no customer
    await s.say_in_thread("UBOB", "note: refund ref 4711", slack_ts)
    (note,) = await s.teams.wait_for("send", where=lambda c: c.thread == root and "refund ref 4711" in c.text)
    assert note.text.startswith("📝 Bob Builder (internal)")
    await s.pitchin.worker.run_once()
    assert len(s.smtp.messages) == 1

    # Bob closes on Teams: now known on both, he is mentioned natively on each
    await s.submit(BOB, {"action": "ticket.close", "ticket_id": int(ticket)}, root)
    closed = (await s.teams.wait_for("update", count=2, where=lambda c: c.activity_id == root))[-1]
    assert f"Closed by <at>{BOB[1]}</at>." in card_text(closed.card)
    slack_closed = await s.slack.wait_for("chat.update", where=lambda c: "Closed by" in block_texts(c.args["blocks"]))
    assert "Closed by <@UBOB>." in block_texts(slack_closed[-1].args["blocks"])
