""""Save as reply" and placeholders in the core: an answer sent to a customer becomes a saved reply made
general; a reply that still holds [[…]] is kept internal, never sent."""

from __future__ import annotations

from sqlmodel import select

from handlers import registry, saved_from_message, saved_replies, tickets
from handlers.base import Actor, MessageRef, ThreadRef
from storage.models import OutboxJob, SavedReply, TicketMessage
from tests.handlers.conftest import drain
from tests.handlers.test_tickets import in_thread, mail

ANN = Actor("test", "U-ANN", "Ann Lee")
THREAD = ThreadRef("test", "", "support", "root-1")


async def test_an_answer_to_the_customer_becomes_a_general_saved_reply(ctx, worker):
    ticket = tickets.intake(ctx, mail(subject="Re: Refund for my order")).ticket_id
    await drain(worker)
    source = in_thread(1)
    tickets.thread_reply(ctx, ANN, THREAD, source, f"Hi Carol, #{ticket} is refunded; write to carol@example.com "
                                                   "if not. Ann")
    form = saved_from_message.form_for_message(ctx, ANN, source)
    assert form.name == "Refund for my order"
    assert form.text == ("Hi {customer.first_name|there}, #{ticket.number} is refunded; write to {customer.email} if "
                         "not. {me.first_name}")
    assert "check the text before saving" in form.note
    reply, problems = saved_replies.submit(ctx, ANN, form)
    assert problems == {} and reply.text.startswith("Saved “Refund for my order” as a team reply.")
    with ctx.db.transaction() as session:
        row = session.exec(select(SavedReply)).one()
        message = session.exec(select(TicketMessage).where(TicketMessage.kind == "reply")).one()
    assert row.source_message_id == message.id
    # the name is taken now: the next suggestion is another
    assert saved_from_message.form_for_message(ctx, ANN, source).name == "Refund for my order 2"

    # `saved add <name> from #<ticket>`: the ticket's last answer
    added = registry.run_command(ctx, ANN, f"saved add Refunded from #{ticket}")
    assert added.ok and "{customer.first_name|there}" in added.text
    assert registry.run_command(ctx, ANN, "saved add X from #999").text.startswith("There is no ticket #999")


async def test_a_note_or_another_message_cannot_be_saved(ctx, worker):
    ticket = tickets.intake(ctx, mail()).ticket_id
    await drain(worker)
    note = in_thread(2)
    tickets.thread_reply(ctx, ANN, THREAD, note, "note: she is a VIP")
    refused = saved_from_message.form_for_message(ctx, ANN, note)
    assert not refused.ok and refused.text.startswith("Only a reply that went to a customer can be saved")
    assert refused.text.endswith("It was an internal note.")
    elsewhere = saved_from_message.form_for_message(ctx, ANN, MessageRef("test", "", "random", "m-1"))
    assert elsewhere.text.startswith("Only a reply that went to a customer can be saved")
    none_yet = registry.run_command(ctx, ANN, f"saved add X from #{ticket}")
    assert not none_yet.ok and "Nobody has answered the customer" in none_yet.text


async def test_a_reply_with_a_placeholder_left_is_kept_internal(ctx, worker, customers, clock):
    ticket = tickets.intake(ctx, mail()).ticket_id
    await drain(worker)
    told = tickets.thread_reply(ctx, ANN, THREAD, in_thread(3), "Your refund of [[amount]] is on its way, [[name]].")
    assert not told.ok and told.text == ("Not sent: fill in these placeholders first: [[amount]], [[name]]. Write the "
                                         "reply again with your words in place of the brackets. Your message stays in "
                                         "the thread as an internal note.")
    clock.advance(60)
    await drain(worker)
    assert customers.sent == []
    with ctx.db.transaction() as session:
        kinds = [m.kind for m in session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket))]
        assert kinds == ["customer", "note"]
        assert not session.exec(select(OutboxJob).where(OutboxJob.kind == "customer.reply")).all()
    # filled in, it goes (and claims the ticket as any first reply does)
    sent = tickets.thread_reply(ctx, ANN, THREAD, in_thread(4), "Your refund of 20 EUR is on its way, Carol.")
    assert sent.ok and "You claimed" in sent.text
