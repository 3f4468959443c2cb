"""AI drafts on Slack, end to end: signed requests through the real Bolt app, the fake Slack Web API and
the fake OpenAI API on 127.0.0.1 (OPENAI_BASE_URL), a real SMTP server, the real database.

A draft is only ever shown to the person who asked (chat.postEphemeral to them, a modal opened with
their trigger); it reaches the customer only when that person sends it, through the normal reply
path (claim rules, undo window, outbox, ✅)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import view_submission_body
from tests.slack.ai_steps import (DRAFT_MARK, ai_stack, block_texts, buttons, claimed_ticket, draft_button, drafts,
                                  ephemeral_to, save_reply, until)
from tests.stack import CHANNEL, raw_mail, start_stack, stop_stack

REFUND_REPLY = ("Double charge", "When a card is charged twice we refund the second charge within 5 business days.")
GOOD_ANSWER = {"reply": "Hi {customer.first_name|there}, we refund the second charge within 5 business days. "
                        "Sorry for the trouble! {me.first_name}",
               "sources": ["Double charge", "Made-up reply"], "needs_check": []}


@pytest.fixture
def openai():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
async def stack(sqlite_url, openai):
    s = await ai_stack(sqlite_url, openai)
    yield s
    await stop_stack(s)


def posts_in_thread(stack, root_ts: str, containing: str) -> list:
    return [c for c in stack.slack.calls_to("chat.postMessage")
            if c.args.get("thread_ts") == root_ts and containing in c.args.get("text", "")]


async def test_a_draft_is_shown_only_to_its_requester_and_goes_out_only_when_they_send_it(stack, openai):
    save_reply(stack, *REFUND_REPLY)
    save_reply(stack, "Password reset", "Use the Forgot password link on the sign-in page.")
    ticket, root_ts = await claimed_ticket(stack)
    card = stack.slack.calls_to("chat.update")[-1]
    assert buttons(card.args["blocks"]) == ["ticket.unclaim", "ticket.close", "reply.saved", "feedback.from_ticket",
                                            "ai.draft", "ai.summarise"]
    await stack.say_in_thread("UANN", "note: VIP customer, ask Dana before promising anything", root_ts)

    openai.answer(GOOD_ANSWER)
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    shown = await ephemeral_to(stack, "UANN", DRAFT_MARK)
    text = block_texts(shown.args["blocks"])
    assert shown.args["channel"] == CHANNEL and shown.args["thread_ts"] == root_ts
    assert "Hi Carol, we refund the second charge within 5 business days." in text  # variables filled here
    assert "Sources: saved reply “Double charge”." in text  # the made-up source is not named
    assert "⚠️" not in text  # every term is in the saved reply it names
    assert buttons(shown.args["blocks"]) == ["ai.send", "ai.edit", "ai.discard"]

    # what OpenAI was shown: the conversation and the relevant saved reply; no names, addresses or notes
    (request,) = openai.chat_requests()
    sent = json.dumps(request)
    assert "My card was charged twice." in sent and REFUND_REPLY[1] in sent
    for secret in ("carol@example.com", "Carol", "VIP customer", "Dana", "Password reset"):
        assert secret not in sent
    # nothing was posted for others to see, and nothing went to the customer
    assert not posts_in_thread(stack, root_ts, "refund the second charge")
    assert stack.smtp.messages == []

    await stack.click("ai.send", draft_button(shown), "UANN", root_ts)
    (posted,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts
                                           and "refund the second charge" in c.args.get("text", ""))
    assert "from an AI draft they checked" in posted.args["text"]
    (mail,) = await stack.smtp.wait_for(1)
    assert "Hi Carol, we refund the second charge within 5 business days." in mail.text
    assert "AI draft" not in mail.text and "from an AI draft" not in mail.text
    await stack.slack.wait_for("reactions.add", where=lambda c: c.args["timestamp"] == posted.response["ts"])
    (draft,) = drafts(stack)
    assert draft.state == "sent" and draft.reply_id is not None and draft.sent_text.startswith("Hi Carol")
    assert draft.sources == [{"id": 1, "name": "Double charge"}] and draft.caution is None


async def test_an_invented_refund_is_flagged_unless_a_saved_reply_covers_it(stack, openai):
    ticket, root_ts = await claimed_ticket(stack)
    openai.answer({"reply": "Hi there, we will refund you $50 and add a 20% discount by Friday.",
                   "sources": [], "needs_check": []})
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    shown = await ephemeral_to(stack, "UANN", DRAFT_MARK)
    text = block_texts(shown.args["blocks"])
    assert "This draft mentions" in text and "a refund" in text and "no saved reply covers" in text
    assert "“$50”" in text and "check the terms before sending" in text
    assert drafts(stack)[0].caution.startswith("This draft mentions")

    save_reply(stack, "Refunds", "Charged twice? We refund the $50 booking fee in full. Refunds take 5 business days.")
    openai.answer({"reply": "Hi there, we refund the $50 booking fee in full; refunds take 5 business days.",
                   "sources": ["Refunds"], "needs_check": []})
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    second = await ephemeral_to(stack, "UANN", "booking fee")
    assert "⚠️" not in block_texts(second.args["blocks"])
    assert drafts(stack)[1].caution is None
    # the same words without naming the saved reply as a source: the guard does not take the model's word
    openai.answer({"reply": "Hi there, we refund the $50 booking fee in full.", "sources": [], "needs_check": []})
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    third = await ephemeral_to(stack, "UANN", "Sources: no saved reply")
    assert "no saved reply covers" in block_texts(third.args["blocks"])


async def test_a_draft_the_customer_has_overtaken_is_discarded_not_sent(stack, openai):
    ticket, root_ts = await claimed_ticket(stack)
    openai.answer({"reply": "Hi there, sorry about that, we are looking into it.", "sources": [], "needs_check": []})
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    shown = await ephemeral_to(stack, "UANN", DRAFT_MARK)

    await stack.post_email(raw_mail(subject="Re: Double charge", body="Actually it was charged three times.",
                                    message_id="<m2@mail.example.com>", in_reply_to="<m1@mail.example.com>"))
    await stack.slack.wait_for("chat.postMessage", where=lambda c: "three times" in c.args.get("text", ""))
    _, clicked = await stack.click("ai.send", draft_button(shown), "UANN", root_ts)
    told = await stack.response(clicked)
    assert "The customer wrote again" in told["text"] and "ask for a new draft" in told["text"]
    assert drafts(stack)[0].state == "stale"
    assert not posts_in_thread(stack, root_ts, "looking into it")
    await asyncio.sleep(1.5)  # past the 1 s undo window: still nothing went to the customer
    assert stack.smtp.messages == []


async def test_edit_opens_the_text_for_the_requester_and_sends_the_edit(stack, openai):
    ticket, root_ts = await claimed_ticket(stack)
    openai.answer({"reply": "Hi there, sorry about that.", "sources": [], "needs_check": []})
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    shown = await ephemeral_to(stack, "UANN", DRAFT_MARK)
    await stack.click("ai.edit", draft_button(shown, "ai.edit"), "UANN", root_ts)
    (opened,) = await stack.slack.wait_for("views.open")
    view = opened.response["view"]
    assert view["callback_id"] == "ai.edit_form"
    body = view_submission_body(view, "UANN", {"reply_text": "Hi Carol, sorry: we have refunded it already."})
    status, _ = await stack.slack_post(body, "application/x-www-form-urlencoded")
    assert status == 200
    await stack.slack.wait_for("chat.postMessage", where=lambda c: "refunded it already" in c.args.get("text", ""))
    (mail,) = await stack.smtp.wait_for(1)
    assert "we have refunded it already" in mail.text
    (draft,) = drafts(stack)
    assert draft.state == "edited" and draft.sent_text == "Hi Carol, sorry: we have refunded it already."


async def test_discard_and_someone_elses_draft(stack, openai):
    ticket, root_ts = await claimed_ticket(stack)
    openai.answer({"reply": "Hi there.", "sources": [], "needs_check": []})
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    shown = await ephemeral_to(stack, "UANN", DRAFT_MARK)
    _, bob = await stack.click("ai.send", draft_button(shown), "UBOB", root_ts)
    assert "Only the person who asked for a draft" in (await stack.response(bob))["text"]
    _, ann = await stack.click("ai.discard", draft_button(shown, "ai.discard"), "UANN", root_ts)
    assert "Draft discarded" in (await stack.response(ann))["text"]
    assert drafts(stack)[0].state == "discarded"


async def test_a_failing_openai_leaves_the_ticket_loop_alone(stack, openai):
    ticket, root_ts = await claimed_ticket(stack)
    openai.fail(500)
    await stack.click("ai.draft", ticket, "UANN", root_ts)
    told = await ephemeral_to(stack, "UANN", "could not make a draft")
    assert "(500)" in told.args["text"] and "answer in the thread as usual" in told.args["text"]
    assert drafts(stack) == []
    await stack.say_in_thread("UANN", "Sorry, we are on it.", root_ts)
    (mail,) = await stack.smtp.wait_for(1)
    assert "Sorry, we are on it." in mail.text


async def test_a_slow_openai_blocks_nothing_and_the_person_is_told(stack, openai):
    stack.pitchin.ctx.drafter.timeout = 2.0
    ticket, root_ts = await claimed_ticket(stack)
    _, body = await stack.post_email(raw_mail(subject="Login", body="I cannot log in.", message_id="<m9@x.example>"))
    other = str(body["ticket_id"])
    other_ts = (await stack.ticket_post(1)).response["ts"]
    openai.hold()
    try:
        await stack.click("ai.draft", ticket, "UANN", root_ts)
        await until(lambda: openai.chat_requests(), "the draft request")
        # meanwhile: Bob claims the other ticket and answers it; both work while OpenAI says nothing
        await stack.click("ticket.claim", other, "UBOB", other_ts)
        await stack.slack.wait_for("chat.update", where=lambda c: c.args["ts"] == other_ts, timeout=5)
        await stack.say_in_thread("UBOB", "Try the reset link.", other_ts)
        await ephemeral_to(stack, "UBOB", "Sending to", timeout=5)
        assert not [c for c in stack.slack.calls_to("chat.postEphemeral") if DRAFT_MARK in c.args.get("text", "")]
        told = await ephemeral_to(stack, "UANN", "could not make a draft", timeout=15)
        assert "did not answer the chat request in time" in told.args["text"]
    finally:
        openai.release()
    (mail,) = await stack.smtp.wait_for(1)
    assert "Try the reset link." in mail.text


async def test_summarise_posts_an_internal_marked_summary_in_the_thread(stack, openai):
    ticket, root_ts = await claimed_ticket(stack)
    _, short = await stack.click("ai.summarise", ticket, "UANN", root_ts)
    told = await ephemeral_to(stack, "UANN", "short enough to read")
    assert openai.chat_requests() == []
    for n in range(5):
        await stack.say_in_thread("UANN", f"note: checked the ledger, part {n}", root_ts)
    await until(lambda: len(stack.slack.calls_to("chat.postMessage")) >= 1, "the notes")
    openai.answer({"summary": "The customer was charged twice. Support is checking the ledger."})
    await stack.click("ai.summarise", ticket, "UANN", root_ts)
    (posted,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: "AI-written summary" in c.args.get("text", ""))
    assert posted.args["thread_ts"] == root_ts
    assert "🤖 AI-written summary (internal)" in posted.args["text"] and "charged twice" in posted.args["text"]
    await ephemeral_to(stack, "UANN", "is in its thread")
    assert "ledger" not in json.dumps(openai.chat_requests())  # notes are never shown to the model
    await asyncio.sleep(0.3)
    assert told is not None


async def test_without_a_key_there_are_no_ai_buttons_and_the_command_says_ai_is_off(sqlite_url):
    stack = await start_stack(sqlite_url)
    try:
        assert stack.pitchin.ctx.drafter is None
        ticket, root_ts = await claimed_ticket(stack)
        for call in stack.slack.calls_to("chat.postMessage") + stack.slack.calls_to("chat.update"):
            assert not [b for b in buttons(call.args.get("blocks") or []) if b.startswith("ai.")]
        _, response = await stack.command("UANN", f"draft {ticket}")
        told = await stack.response(response)
        assert "AI is off" in told["text"] and "OPENAI_API_KEY" in told["text"]
        _, response = await stack.command("UANN", f"summarise {ticket}")
        assert "AI is off" in (await stack.response(response))["text"]
        await stack.click("ai.draft", ticket, "UANN", root_ts)  # a card drawn while a key was set
        await ephemeral_to(stack, "UANN", "AI is off")
    finally:
        await stop_stack(stack)
