"""Use a saved reply in the core: the closest saved replies offered, filled in, and sent through the
normal reply path; the replies learn from use. On SQLite and PostgreSQL, with the real local model."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers import saved_match, tickets, use_saved
from handlers.base import Actor, InboundMessage, MessageRef, Reply, utcnow
from handlers.context import Context
from handlers.message_vectors import MESSAGE
from storage import repos
from storage.models import MessageVector, OutboxJob, SavedReply, SavedReplyExample, TicketMessage
from tests.handlers.conftest import drain

ANN = Actor("test", "U-ANN", "Ann Lee")
BOB = Actor("test", "U-BOB", "Bob Roy")

TEAM_REPLIES = [
    ("Refund", "Hi {customer.first_name|there}, we have refunded the payment; refunds reach your account in 5 to "
               "10 working days. {me.first_name}"),
    ("Card delivery", "Hi {customer.first_name|there}, a new card arrives by post within 7 working days of ordering "
                      "it. Ticket {ticket.number}. [[tracking number]]"),
    ("Reset password", "To reset your password, click “Forgot password” on the sign-in page and follow the link we "
                       "email you."),
    ("Cancel subscription", "You can cancel your subscription at any time under Settings → Billing; you keep access "
                            "until the end of the period."),
    ("Opening hours", "Our support team answers from 9:00 to 17:00, Monday to Friday."),
]


@pytest.fixture
def desk(any_database, clock):
    return Context(db=any_database, platforms=("test",), undo_seconds=10, mail_domain="example.test", clock=clock)


def add_reply(ctx, name, text, scope="team", owner: Actor | None = None) -> int:
    with ctx.db.transaction() as session:
        owner_id = repos.person_for(session, owner).id if owner else None
        if owner_id is not None:
            scope = f"person:{owner_id}"
        reply = SavedReply(scope=scope, owner_id=owner_id, name=name, name_key=name.lower(), text=text)
        session.add(reply)
        session.flush()
        return reply.id


def team(ctx) -> dict[str, int]:
    return {name: add_reply(ctx, name, text) for name, text in TEAM_REPLIES}


def ticket(ctx, text, subject="Question", name="Carol Diaz", email="carol@example.com") -> int:
    key = f"<{uuid.uuid4().hex}@mail.example.com>"
    return tickets.intake(ctx, InboundMessage(
        source="email", external_key=f"email:{key}", sender_email=email, sender_name=name, subject=subject,
        text=text, received_at=utcnow(), email_message_id=key)).ticket_id


def names(offer) -> list[str]:
    assert isinstance(offer, use_saved.Offer), offer
    return [option.name for option in offer.options]


def in_thread() -> MessageRef:
    return MessageRef("test", "", "support", f"msg-{uuid.uuid4().hex[:8]}", "root-1")


def use(ctx, actor, ticket_id, offer, name, text=None) -> Reply | None:
    option = next(o for o in offer.options if o.name == name)
    return use_saved.send(ctx, actor, ticket_id, option.saved_reply_id, text or option.text, in_thread())


def test_the_right_reply_first_for_a_paraphrase_filled_in_for_this_ticket(desk):
    team(desk)
    t = ticket(desk, "I ordered a new card two weeks ago and it still hasn't come")
    offer = use_saved.offer(desk, ANN, t)
    assert names(offer)[0] == "Card delivery" and len(offer.options) == 3
    card = offer.options[0]
    assert card.text.startswith("Hi Carol, a new card arrives by post") and f"Ticket {t}." in card.text
    assert card.placeholders == ("tracking number",)
    assert offer.title == f"#{t} · Question"
    # the latest customer message is what is matched
    assert names(use_saved.offer(desk, ANN, ticket(desk, "I can't get into my account")))[0] == "Reset password"


def test_private_replies_of_others_are_never_offered_and_ones_own_wins_over_the_team(desk):
    ids = team(desk)
    bobs = add_reply(desk, "Card delivery", "Bob's own: your card is on its way by post, {customer.first_name}.",
                     owner=BOB)
    add_reply(desk, "Lost card", "Bob's: we block a lost card at once and send a new one by post.", owner=BOB)
    t = ticket(desk, "I ordered a new card two weeks ago and it still hasn't come")
    anns = use_saved.offer(desk, ANN, t)
    assert "Lost card" not in names(anns)
    assert anns.options[0].saved_reply_id == ids["Card delivery"]
    assert all("Bob's" not in option.text for option in anns.options)
    bobs_offer = use_saved.offer(desk, BOB, t)
    assert bobs_offer.options[0].saved_reply_id == bobs  # his own "Card delivery" instead of the team's
    assert ids["Card delivery"] not in [o.saved_reply_id for o in bobs_offer.options]


def test_learning_from_use_makes_a_second_paraphrase_match(desk, clock):
    ids = team(desk)
    second = "nothing in my letterbox since I asked for a replacement"
    before = use_saved.offer(desk, ANN, ticket(desk, second))
    assert names(before)[0] != "Card delivery"  # the words alone do not say it

    first = ticket(desk, "Still nothing in my letterbox, it's been ten days")
    offer = use_saved.offer(desk, ANN, first)
    assert "Card delivery" in names(offer)
    sent = use(desk, ANN, first, offer, "Card delivery", "Hi Carol, a new card arrives by post within 7 days.")
    assert sent.delivery_of is not None
    with desk.db.transaction(read_only=True) as session:
        assert session.get(SavedReply, ids["Card delivery"]).uses == 1
        examples = session.execute(select(SavedReplyExample.saved_reply_id, SavedReplyExample.ticket_message_id)).all()
        first_message = repos.first_customer_message(session, first).id
    assert examples == [(ids["Card delivery"], first_message)]

    after = use_saved.offer(desk, ANN, ticket(desk, second, email="dan@example.com"))
    assert names(after)[0] == "Card delivery"


def test_vectors_are_stored_once_and_computed_again_when_a_reply_changes(desk, model_threads):
    ids = team(desk)
    t = ticket(desk, "Can I get my money back for last month?")
    assert names(use_saved.offer(desk, ANN, t))[0] == "Refund"
    computed = len(model_threads)
    assert computed >= 1
    assert names(use_saved.offer(desk, ANN, t))[0] == "Refund"
    assert len(model_threads) == computed  # the message's and the replies' vectors were kept
    with desk.db.transaction() as session:
        stored = session.execute(select(MessageVector.kind, MessageVector.ref_id)).all()
        assert (MESSAGE, repos.first_customer_message(session, t).id) in stored
        assert {ref for kind, ref in stored if kind == saved_match.SAVED_REPLY} == set(ids.values())
        refund = session.get(SavedReply, ids["Refund"])
        refund.name, refund.text = "Shipping times", "Parcels ship within two days from our warehouse."
        refund.updated_at = refund.updated_at + timedelta(seconds=1)
        session.add(refund)
    assert "Shipping times" not in names(use_saved.offer(desk, ANN, t))[:1]
    assert len(model_threads) == computed + 1  # only the edited reply was embedded again


def test_no_saved_replies_yet_says_how_to_add_one(desk):
    t = ticket(desk, "Hello?")
    reply = use_saved.offer(desk, ANN, t)
    assert isinstance(reply, Reply) and not reply.ok and "`saved add <name>`" in reply.text
    assert "no ticket #999" in use_saved.offer(desk, ANN, 999).text


async def test_sending_goes_through_the_normal_reply_path_and_placeholders_are_refused(ctx, worker, chat,
                                                                                     customers, clock):
    team(ctx)
    t = ticket(ctx, "I ordered a new card two weeks ago and it still hasn't come")
    await drain(worker)
    offer = use_saved.offer(ctx, ANN, t)
    card = offer.options[0]
    refused = use_saved.prepare(ctx, ANN, t, card.saved_reply_id, card.text, "test")
    assert isinstance(refused, Reply) and not refused.ok and "[[tracking number]]" in refused.text
    assert use_saved.send(ctx, ANN, t, card.saved_reply_id, card.text, in_thread()).text == refused.text
    text = card.text.replace("[[tracking number]]", "Tracking: RR123.")
    ready = use_saved.prepare(ctx, ANN, t, card.saved_reply_id, text, "test")
    assert ready.line == f"Ann Lee (saved reply “Card delivery”): {text}"
    assert ready.thread is not None and ready.thread.thread_id == "root-1"
    sent = use_saved.send(ctx, ANN, t, card.saved_reply_id, text, in_thread())
    assert "You claimed" in sent.text and [b.label for b in sent.actions] == ["Undo"]
    await drain(worker)
    assert customers.sent == []  # the undo window
    clock.advance(11)
    await drain(worker)
    assert [r.text for r in customers.sent] == [text]
    with ctx.db.transaction(read_only=True) as session:
        kinds = [j.kind for (j,) in session.execute(select(OutboxJob)) if j.kind == "customer.reply"]
        replies = [m for (m,) in session.execute(select(TicketMessage).where(TicketMessage.kind == "reply"))]
    assert kinds == ["customer.reply"] and replies[0].text == text and replies[0].delivery_state == "sent"


def uses_and_examples(ctx, saved_reply_id) -> tuple[int, list[int]]:
    with ctx.db.transaction(read_only=True) as session:
        uses = session.get(SavedReply, saved_reply_id).uses
        examples = session.execute(select(SavedReplyExample.ticket_message_id).where(
            SavedReplyExample.saved_reply_id == saved_reply_id).order_by(SavedReplyExample.ticket_message_id)).scalars()
        return uses, list(examples)


def test_undo_takes_back_the_use_and_the_example_too(desk):
    ids = team(desk)
    card = ids["Card delivery"]
    first = ticket(desk, "Still nothing in my letterbox, it's been ten days")
    second = ticket(desk, "My new card never came in the post", email="dan@example.com")
    kept = use(desk, ANN, first, use_saved.offer(desk, ANN, first), "Card delivery", "Your card is on its way.")
    slip = use(desk, ANN, second, use_saved.offer(desk, ANN, second), "Card delivery", "Your card is on its way.")
    with desk.db.transaction(read_only=True) as session:
        first_message = saved_match.customer_message(session, first).id
        second_message = saved_match.customer_message(session, second).id
    assert uses_and_examples(desk, card) == (2, [first_message, second_message])

    taken_back = tickets.undo_reply(desk, ANN, slip.delivery_of)
    assert taken_back.ok and taken_back.text.startswith("Taken back")
    assert uses_and_examples(desk, card) == (1, [first_message])  # the other send still counts
    # a second click changes nothing more
    assert "Already taken back" in tickets.undo_reply(desk, ANN, slip.delivery_of).text
    assert uses_and_examples(desk, card) == (1, [first_message])

    # the same reply sent twice on one ticket: taking one back keeps the example the other made
    again = use(desk, ANN, first, use_saved.offer(desk, ANN, first), "Card delivery", "Tracking: RR123.")
    assert uses_and_examples(desk, card) == (2, [first_message])
    tickets.undo_reply(desk, ANN, again.delivery_of)
    assert uses_and_examples(desk, card) == (1, [first_message])
    tickets.undo_reply(desk, ANN, kept.delivery_of)
    assert uses_and_examples(desk, card) == (0, [])


def test_an_undo_that_comes_first_leaves_nothing_learnt(desk, monkeypatch):
    ids = team(desk)
    t = ticket(desk, "Still nothing in my letterbox, it's been ten days")
    offer = use_saved.offer(desk, ANN, t)
    answer = tickets.answer

    def answered_then_taken_back(ctx, actor, ticket_id, text, **kwargs):
        reply = answer(ctx, actor, ticket_id, text, **kwargs)
        tickets.undo_reply(ctx, actor, reply.delivery_of)  # before send records the use
        return reply

    monkeypatch.setattr(tickets, "answer", answered_then_taken_back)
    sent = use(desk, ANN, t, offer, "Card delivery", "Your card is on its way.")
    assert sent.delivery_of is not None
    assert uses_and_examples(desk, ids["Card delivery"]) == (0, [])
