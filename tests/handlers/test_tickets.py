"""The ticket loop in the core, against a recording chat and recording customers."""

from __future__ import annotations

import uuid

from sqlmodel import select

from handlers import outbound, registry, tickets
from handlers.base import Actor, DeliveryError, InboundMessage, MessageRef, ThreadRef, utcnow
from handlers.cards import plain
from storage.models import OutboxJob, TicketMessage
from bot.delivery import DeliveryWorker
from tests.conftest import RecordingChat
from tests.handlers.conftest import drain

ANN = Actor("test", "U-ANN", "Ann")
BOB = Actor("test", "U-BOB", "Bob")


def mail(text="My card was charged twice", sender="carol@example.com", key=None, refs=(), subject="Double charge"):
    key = key or f"<{uuid.uuid4().hex}@mail.example.com>"
    return InboundMessage(source="email", external_key=f"email:{key}", sender_email=sender, sender_name="Carol",
                          subject=subject, text=text, received_at=utcnow(), email_message_id=key, in_reply_to=tuple(refs))




def in_thread(n: int) -> MessageRef:
    return MessageRef("test", "", "support", f"msg-{uuid.uuid4().hex[:8]}-{n}", "root-1")


async def test_new_mail_is_posted_once_with_claim_and_close(ctx, worker, chat):
    result = tickets.intake(ctx, mail())
    assert result.new_ticket
    await drain(worker)
    assert list(chat.roots) == ["root-1"]
    card = chat.roots["root-1"]
    assert card.title == f"#{result.ticket_id} · Double charge"
    assert "charged twice" in card.body
    assert [b.label for b in card.actions] == ["Claim", "Close", "Use a saved reply", "Log feedback"]
    assert plain(card.status).startswith("🟢 Open")


async def test_intake_is_idempotent_on_message_id(ctx, worker, chat):
    first = tickets.intake(ctx, mail(key="<same@example.com>"))
    second = tickets.intake(ctx, mail(key="<same@example.com>"))
    assert second.duplicate and second.ticket_id == first.ticket_id and not second.new_ticket
    await drain(worker)
    assert len(chat.roots) == 1


async def test_claim_then_second_claimer_is_told_who(ctx, worker, chat):
    t = tickets.intake(ctx, mail()).ticket_id
    await drain(worker)
    won = tickets.claim(ctx, ANN, t)
    lost = tickets.claim(ctx, BOB, t)
    assert won.ok and "You claimed" in won.text
    assert not lost.ok and lost.text == f"#{t} is already claimed by Ann."
    await drain(worker)
    assert plain(chat.roots["root-1"].status) == "🙋 Claimed by Ann."
    assert [b.label for b in chat.roots["root-1"].actions] == ["Unclaim", "Close", "Use a saved reply", "Log feedback"]


async def test_unknown_ticket_and_bad_command(ctx):
    assert tickets.claim(ctx, ANN, 999).text.startswith("There is no ticket #999")
    reply = registry.run_command(ctx, ANN, "claim seven")
    assert not reply.ok and "“seven” is not a ticket number" in reply.text and "Usage: claim <ticket number>" in reply.text
    reply = registry.run_command(ctx, ANN, "clam 3")
    assert not reply.ok and "does not know “clam”" in reply.text


async def test_reply_goes_out_after_undo_window_threaded(ctx, worker, chat, customers, clock):
    tickets.intake(ctx, mail(key="<first@example.com>"))
    await drain(worker)
    thread = ThreadRef("test", "", "support", "root-1")
    source = in_thread(1)
    reply = tickets.thread_reply(ctx, ANN, thread, source, "Refunded, sorry!")
    assert "You claimed" in reply.text and "in 10 s" in reply.text
    assert [b.label for b in reply.actions] == ["Undo"]
    await drain(worker)
    assert customers.sent == []  # still inside the undo window
    clock.advance(11)
    await drain(worker)
    (sent,) = customers.sent
    assert sent.subject == "Re: Double charge" and sent.in_reply_to == "<first@example.com>"
    assert sent.references == ("<first@example.com>",) and sent.text == "Refunded, sorry!"
    await drain(worker)
    assert chat.delivery[source.message_id] == "sent"
    assert chat.marks[-1].text == "✅ Sent to carol@example.com by email."


async def test_undo_keeps_reply_internal(ctx, worker, customers, clock):
    tickets.intake(ctx, mail())
    await drain(worker)
    reply = tickets.thread_reply(ctx, ANN, ThreadRef("test", "", "support", "root-1"), in_thread(1), "oops wrong ticket")
    undo = registry.run_action(ctx, ANN, "reply.undo", reply.actions[0].value)
    assert undo.ok and "Taken back" in undo.text
    clock.advance(30)
    await drain(worker)
    assert customers.sent == []
    assert "Already taken back" in registry.run_action(ctx, ANN, "reply.undo", reply.actions[0].value).text


async def test_note_and_non_claimer_stay_internal(ctx, worker, customers, clock):
    t = tickets.intake(ctx, mail()).ticket_id
    await drain(worker)
    thread = ThreadRef("test", "", "support", "root-1")
    assert tickets.thread_reply(ctx, ANN, thread, in_thread(1), "note: checking with billing") is None
    tickets.claim(ctx, ANN, t)
    told = tickets.thread_reply(ctx, BOB, thread, in_thread(2), "I think it's a bug")
    assert not told.ok and "claimed by Ann" in told.text and "note:" in told.text
    clock.advance(60)
    await drain(worker)
    assert customers.sent == []
    with ctx.db.transaction() as s:
        kinds = [m.kind for m in s.exec(select(TicketMessage).order_by(TicketMessage.id))]
    assert kinds == ["customer", "note", "note"]


async def test_duplicate_platform_event_sends_once(ctx, worker, customers, clock):
    tickets.intake(ctx, mail())
    await drain(worker)
    thread, source = ThreadRef("test", "", "support", "root-1"), in_thread(1)
    assert tickets.thread_reply(ctx, ANN, thread, source, "hello") is not None
    assert tickets.thread_reply(ctx, ANN, thread, source, "hello") is None
    assert tickets.thread_reply(ctx, ANN, thread, source, "hello") is None
    clock.advance(11)
    await drain(worker)
    assert len(customers.sent) == 1


async def test_followup_joins_thread_only_from_same_sender(ctx, worker, chat, customers, clock):
    first = tickets.intake(ctx, mail(key="<a1@example.com>"))
    await drain(worker)
    tickets.thread_reply(ctx, ANN, ThreadRef("test", "", "support", "root-1"), in_thread(1), "Can you send a receipt?")
    clock.advance(11)
    await drain(worker)
    ours = customers.sent[0].message_id
    follow = tickets.intake(ctx, mail("Here it is", key="<a2@example.com>", refs=(ours,)))
    assert follow.ticket_id == first.ticket_id and not follow.new_ticket
    stranger = tickets.intake(ctx, mail("me too!", sender="mallory@example.com", refs=(ours, "<a1@example.com>")))
    assert stranger.new_ticket and stranger.ticket_id != first.ticket_id
    await drain(worker)
    assert any("Here it is" in m for m in chat.threads["root-1"])
    assert not any("me too" in m for m in chat.threads["root-1"])


async def test_customer_writing_to_closed_ticket_reopens_it(ctx, worker, chat):
    t = tickets.intake(ctx, mail(key="<c1@example.com>")).ticket_id
    await drain(worker)
    assert tickets.close(ctx, BOB, t).ok
    assert "already closed by Bob" in tickets.close(ctx, ANN, t).text
    await drain(worker)
    assert [b.label for b in chat.roots["root-1"].actions] == ["Reopen", "Log feedback"]
    tickets.intake(ctx, mail("still broken", key="<c2@example.com>", refs=("<c1@example.com>",)))
    await drain(worker)
    assert plain(chat.roots["root-1"].status).startswith("🟢 Open")
    assert "open again" in chat.threads["root-1"][-1]


async def reply_while_mail_fails(ctx, worker, customers) -> MessageRef:
    """A ticket, and Ann's reply to it while the mail server refuses: her message in the thread."""
    tickets.intake(ctx, mail())
    await drain(worker)
    source = in_thread(1)
    tickets.thread_reply(ctx, ANN, ThreadRef("test", "", "support", "root-1"), source, "On it")
    customers.fail_with = DeliveryError("mail server refused the connection")
    return source


async def test_failed_delivery_warns_once_then_succeeds(ctx, worker, chat, customers, clock):
    source = await reply_while_mail_fails(ctx, worker, customers)
    for _ in range(3):
        clock.advance(400)
        await drain(worker)
    assert chat.delivery[source.message_id] == "failed"
    assert "Not delivered to carol@example.com yet: mail server refused the connection" in chat.marks[-1].text
    warnings = [m for m in chat.threads["root-1"] if m.startswith("⚠️")]
    assert len(warnings) == 1 and "refused the connection" in warnings[0]
    customers.fail_with = None
    clock.advance(400)
    await drain(worker)
    assert len(customers.sent) == 1
    assert chat.delivery[source.message_id] == "recovered"
    assert [m.state for m in chat.marks] == ["failed", "recovered"]


async def test_chat_outage_delays_but_loses_nothing(ctx, worker, chat, clock):
    tickets.intake(ctx, mail())
    chat.fail_next = 2
    await drain(worker)
    assert chat.roots == {}
    clock.advance(400)
    await drain(worker)
    clock.advance(400)
    await drain(worker)
    assert len(chat.roots) == 1
    with ctx.db.transaction() as s:
        assert {j.state for j in s.exec(select(OutboxJob))} == {"done"}


async def test_with_two_platforms_replies_and_notes_show_on_the_other(ctx, customers, clock):
    ctx.platforms = ("test", "other")
    here, there = RecordingChat("test"), RecordingChat("other")
    worker = DeliveryWorker(ctx, {"test": here, "other": there}, customers)
    tickets.intake(ctx, mail())
    await drain(worker)
    thread = ThreadRef("test", "", "support", "root-1")
    tickets.thread_reply(ctx, ANN, thread, in_thread(1), "note: checking with billing")
    tickets.thread_reply(ctx, ANN, thread, in_thread(2), "Refunded, sorry!")
    clock.advance(11)
    await drain(worker)
    assert there.threads["root-1"] == ["📝 Ann (internal): checking with billing",
                                       "✉️ Ann answered carol@example.com:\nRefunded, sorry!"]
    assert here.threads["root-1"] == []  # where they were written, they are seen already
    assert plain(there.roots["root-1"].status) == "🙋 Claimed by Ann."
    assert [m.state for m in here.marks] == ["sent"] and there.marks == []


async def test_a_receipt_is_redrawn_with_the_delivery(ctx, worker, chat, customers, clock):
    tickets.intake(ctx, mail())
    await drain(worker)
    reply = tickets.thread_reply(ctx, ANN, ThreadRef("test", "", "support", "root-1"), in_thread(1), "On it")
    assert reply.delivery_of == int(reply.actions[0].value)
    receipt = MessageRef("test", "", "support", "undo-card-1", "root-1")
    outbound.keep_receipt(ctx, reply.delivery_of, receipt)
    clock.advance(11)
    await drain(worker)
    (mark,) = chat.marks
    assert mark.receipt == receipt and mark.state == "sent" and mark.message.thread_id == "root-1"


async def test_a_receipt_posted_after_the_delivery_is_redrawn_at_once(ctx, worker, chat, customers, clock):
    tickets.intake(ctx, mail())
    await drain(worker)
    reply = tickets.thread_reply(ctx, ANN, ThreadRef("test", "", "support", "root-1"), in_thread(1), "On it")
    clock.advance(11)
    await drain(worker)  # sent (and marked on the message itself) before the platform handed in its note
    receipt = MessageRef("test", "", "support", "late-card", "root-1")
    outbound.keep_receipt(ctx, reply.delivery_of, receipt)
    await drain(worker)
    assert [(m.state, m.receipt) for m in chat.marks] == [("sent", None), ("sent", receipt)]
