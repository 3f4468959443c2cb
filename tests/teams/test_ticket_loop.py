"""The ticket loop in a Teams channel, end to end: activities POSTed to /api/messages of a running
Pitchin (botbuilder's CloudAdapter), a fake Bot Connector service on 127.0.0.1, a real SMTP server,
the real database."""

from __future__ import annotations

from tests.fakes.teams_connector import GENERAL, SUPPORT, card_actions, card_text, text_blocks
from tests.stack import LaterClock, raw_mail
from tests.teams.stack import ANN, BOB, start_teams_stack, stop_teams_stack


def data_of(call, action: str) -> dict:
    return next(d for d in card_actions(call.card) if d["action"] == action)


async def test_install_greets_once_and_tickets_here_chooses_the_channel(teams_stack):
    s = teams_stack
    for activity in (s.acts.bot_added(), s.acts.installed(), s.acts.bot_added()):  # Teams sends both, and retries
        status, _ = await s.send(activity)
        assert status in (200, 201)
    (hello,) = await s.teams.wait_for("send", where=lambda c: c.channel == GENERAL)
    assert "tickets here" in hello.text and "help" in hello.text

    asked = await s.say(ANN, "help", mention=True)
    (helped,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == asked["id"])
    assert "tickets here" in helped.text and "claim <ticket number>" in helped.text and "note:" in helped.text

    answer = await s.choose_channel()
    assert "From now on every new customer conversation is posted in this channel" in answer.text
    assert answer.thread is not None and answer.channel == SUPPORT  # an answer in the command's own thread
    assert len([c for c in s.teams.calls if c.channel == GENERAL]) == 1  # greeted once


async def test_whole_loop_email_to_card_claim_answer_and_back(any_teams_stack):
    s = any_teams_stack
    await s.choose_channel()
    status, body = await s.post_email(raw_mail())
    assert status == 202 and body["new_ticket"]
    ticket = body["ticket_id"]

    posted = await s.ticket()
    root = posted.new_id
    assert posted.body["channelData"]["channel"]["id"] == SUPPORT and posted.body["isGroup"] is True
    shown = card_text(posted.card)
    assert f"#{ticket} · Double charge" in shown and "carol@example.com" in shown and "charged twice" in shown
    assert [d["action"] for d in card_actions(posted.card)] == ["ticket.claim", "ticket.close", "reply.saved", "feedback.from_ticket"]
    assert data_of(posted, "ticket.claim") == {"action": "ticket.claim", "ticket_id": ticket}

    # Ann claims from the card: the card is redrawn in place; Bob, a moment later, is told who has it
    await s.submit(ANN, data_of(posted, "ticket.claim"), root)
    (update,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == root)
    assert update.conversation_id == f"{SUPPORT};messageid={root}"
    assert "Claimed by <at>Ann Example</at>" in card_text(update.card)
    assert update.card["msteams"]["entities"][0]["mentioned"] == {"id": ANN[0], "name": ANN[1]}
    assert [d["action"] for d in card_actions(update.card)] == ["ticket.unclaim", "ticket.close", "reply.saved", "feedback.from_ticket"]
    assert s.teams.messages[root]["attachments"][0]["content"] == update.card  # the channel shows the new card
    click = await s.submit(BOB, data_of(posted, "ticket.claim"), root)
    (told,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == click["id"])
    assert told.thread == root
    assert f"<at>{BOB[1]}</at> #{ticket} is already claimed by <at>{ANN[1]}</at>." in told.text

    # Ann answers in the thread, @mentioning the bot on the way: an Undo card, then the customer's mail
    said = await s.say(ANN, "We refunded the second charge. Pitchin will email a receipt.", thread=root, mention=True)
    (undo,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    assert undo.thread == root and "Sending to carol@example.com by email in 1 s." in undo.text
    assert [d["action"] for d in card_actions(undo.card)] == ["reply.undo"]
    (mail,) = await s.smtp.wait_for(1)
    assert mail["Subject"] == "Re: Double charge" and mail["In-Reply-To"] == "<m1@mail.example.com>"
    assert "We refunded the second charge. Pitchin will email a receipt." in mail.text
    assert "<at>" not in mail.text and "Pitchin</at>" not in mail.text
    # the Undo card is redrawn as sent, in place
    (sent,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == undo.new_id)
    assert "✅ Sent to carol@example.com by email." in sent.text and card_actions(sent.card) == []

    # notes and a non-claimer's words stay inside; Bob is told why
    await s.say(ANN, "note: checking the ledger first", thread=root)
    bob = await s.say(BOB, "I'd refund it twice", thread=root)
    (why,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == bob["id"])
    assert "Kept internal" in why.text and "claimed by Ann Example" in why.text
    await s.say(ANN, "Refund issued.", thread=root)
    mails = await s.smtp.wait_for(2)
    assert "Refund issued." in mails[1].text
    assert not any("ledger" in m.text or "twice" in m.text for m in s.smtp.messages)

    # the customer answers our mail: it lands in the card's thread
    status, body = await s.post_email(raw_mail(subject="Re: Double charge", body="Thanks, all good now!",
                                               message_id="<m2@mail.example.com>", in_reply_to=mail["Message-ID"]))
    assert status == 202 and body["ticket_id"] == ticket and not body["new_ticket"]
    (followup,) = await s.teams.wait_for("send", where=lambda c: c.thread == root and "all good" in c.text)
    assert followup.conversation_id == f"{SUPPORT};messageid={root}"
    assert len(s.teams.calls_to("create")) == 1  # one card per ticket


async def test_what_a_customer_wrote_is_shown_as_written_never_as_markdown(teams_stack):
    """An email can say anything: "[Pay here](https://…)" in a TextBlock would become a link whose
    address the employee does not see. The subject, the sender and the message are TextRuns."""
    s = teams_stack
    await s.choose_channel()
    subject = "**URGENT** [Verify your account](https://phish.example/login)"
    message = "Please pay here: [your invoice](https://phish.example/pay)\n\n- one\n- two _now_"
    status, _ = await s.post_email(raw_mail(subject=subject, body=message,
                                            sender='"[Bank](https://phish.example)" <mallory@example.com>'))
    assert status == 202
    posted = await s.ticket()

    markdown = " ".join(b["text"] for b in text_blocks(posted.card) if b["type"] == "TextBlock")
    assert "phish.example" not in markdown and "URGENT" not in markdown and "_now_" not in markdown
    runs = [run["text"] for b in text_blocks(posted.card) if b["type"] == "RichTextBlock" for run in b["inlines"]]
    assert any(subject in run for run in runs)
    assert any("[Bank](https://phish.example)" in run for run in runs)
    assert any("[your invoice](https://phish.example/pay)" in run and "- two _now_" in run for run in runs)
    assert all(run["type"] == "TextRun" for b in text_blocks(posted.card) if b["type"] == "RichTextBlock"
               for run in b["inlines"])
    assert "Received:" in markdown  # the time stays a TextBlock: the client shows it in the reader's zone


async def test_the_ticket_channel_survives_a_restart(teams_stack):
    s = teams_stack
    await s.choose_channel()
    await s.restart()  # a new process on the same database: nobody says `tickets here` again
    status, body = await s.post_email(raw_mail())
    assert status == 202
    posted = await s.ticket()
    assert posted.body["channelData"]["channel"]["id"] == SUPPORT
    assert f"#{body['ticket_id']} · Double charge" in card_text(posted.card)
    # and the new process answers in that ticket's thread
    said = await s.say(ANN, "On it.", thread=posted.new_id)
    (undo,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    assert "You claimed" in undo.text
    (mail,) = await s.smtp.wait_for(1)
    assert "On it." in mail.text


async def test_tickets_wait_for_a_channel_and_nothing_is_lost(teams_stack):
    s = teams_stack
    status, body = await s.post_email(raw_mail())
    assert status == 202
    job = await s.outbox_job("chat.post_ticket")
    assert "say `@Pitchin tickets here`" in job.last_error
    await s.choose_channel()
    s.pitchin.ctx.clock = LaterClock()  # skip the wait before the retry
    posted = await s.ticket(timeout=15)
    assert f"#{body['ticket_id']} · Double charge" in card_text(posted.card)


async def test_undo_in_teams_takes_the_reply_back_and_redraws_the_card(sqlite_url):
    s = await start_teams_stack(sqlite_url, undo_seconds=30)
    try:
        await s.choose_channel()
        await s.post_email(raw_mail())
        root = (await s.ticket()).new_id
        said = await s.say(ANN, "Wrong ticket, sorry", thread=root)
        (undo,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
        undo_data = card_actions(undo.card)[0]
        stranger = await s.submit(BOB, undo_data, undo.new_id, thread=root)
        (refused,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == stranger["id"])
        assert "Only the person who wrote a reply can take it back." in refused.text
        await s.submit(ANN, undo_data, undo.new_id, thread=root)
        (taken,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == undo.new_id)
        assert "Taken back" in taken.text and card_actions(taken.card) == []
        s.pitchin.ctx.clock = LaterClock()  # well past the window
        await s.pitchin.worker.run_once()
        assert s.smtp.messages == []
    finally:
        await stop_teams_stack(s)


async def test_failed_delivery_is_shown_in_the_thread_and_retried(teams_stack):
    s = teams_stack
    await s.choose_channel()
    await s.post_email(raw_mail())
    root = (await s.ticket()).new_id
    s.smtp.stop()
    said = await s.say(ANN, "Refund on its way.", thread=root)
    (undo,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    (warned,) = await s.teams.wait_for("update", where=lambda c: c.activity_id == undo.new_id)
    assert "⚠️ Not delivered to carol@example.com yet" in warned.text and "keeps trying" in warned.text
    (notice,) = await s.teams.wait_for("send", where=lambda c: c.thread == root and "has not been delivered" in c.text)
    s.smtp.start()
    s.pitchin.ctx.clock = LaterClock()
    (mail,) = await s.smtp.wait_for(1, timeout=15)
    assert "Refund on its way." in mail.text
    updates = await s.teams.wait_for("update", count=2, where=lambda c: c.activity_id == undo.new_id)
    assert "✅ Sent to carol@example.com by email after all." in updates[-1].text


async def test_a_connector_outage_delays_the_card_but_loses_nothing(teams_stack):
    s = teams_stack
    await s.choose_channel()
    s.teams.set_down(True)
    await s.post_email(raw_mail())
    job = await s.outbox_job("chat.post_ticket")
    assert "Teams" in job.last_error
    s.teams.set_down(False)
    s.pitchin.ctx.clock = LaterClock()
    posted = await s.ticket(timeout=15)
    assert "Double charge" in card_text(posted.card)
    assert [c.status for c in s.teams.calls_to("create")][0] == 503
    assert len([c for c in s.teams.calls_to("create") if c.ok]) == 1


async def test_a_turn_that_fails_is_logged_and_the_person_told(teams_stack, monkeypatch, caplog):
    s = teams_stack

    def broken(ctx, thread):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr("handlers.tickets.ticket_in_thread", broken)
    said = await s.say(ANN, "hello?", thread="1800000000999")  # answered 201: Teams does not resend it
    (sorry,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == said["id"])
    assert "Sorry, Pitchin could not do that" in sorry.text
    assert any("the database fell over" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
