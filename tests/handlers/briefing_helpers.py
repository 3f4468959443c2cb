"""A hand-made history of customer messages for the briefing tests: tickets and feedback written
straight into their tables, each message's vector computed here with the bundled local model (as
intake stores it when a message arrives) and stored as a MessageVector row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from handlers import message_vectors
from handlers.similarity import LocalEmbedder
from storage.models import MessageVector, SuggestionCard, SuggestionRequest, ThreadAnchor, Ticket, TicketMessage

REFUNDS = [
    "Where is my refund? I still have not received it.",
    "My refund still has not come through to my bank account.",
    "I am still waiting for my refund for the cancelled order.",
    "When will I get my refund? It is late.",
    "I have not received my refund yet, it has been two weeks.",
    "You promised a refund but the money is not in my account.",
    "My refund is two weeks late, where is my money?",
    "Still no refund in my bank account after ten days.",
    "Please send my refund, I have been waiting for weeks.",
    "The refund for my order has not reached my bank.",
]
CARDS = [
    "My new card has not been delivered yet.",
    "When will my new card be delivered? I ordered it last month.",
    "My new card still has not come in the post.",
    "I am still waiting for my new card to be delivered.",
    "Has my new card been posted? It has not been delivered.",
    "My new bank card has not arrived in the post yet.",
    "Where is my new card? The delivery is late.",
    "My replacement card has not been delivered yet.",
    "I ordered a new card and it never came in the post.",
    "The new card you promised has not been delivered to my address.",
]
PASSWORDS = [
    "I cannot reset my password, the reset email never comes.",
    "The password reset link says it has expired.",
    "I forgot my password and the reset does not work.",
    "Resetting my password gives me an error every time.",
    "No password reset email in my inbox, even in spam.",
    "How do I change my password? The reset link is broken.",
]

# one customer each, about different things: a real week's background (the grouping centres on the
# week's mean, and a week of two topics only has no "ordinary message" to centre on)
ONE_OFFS = [
    "Can I change the email address on my account?",
    "Do you offer a discount for students?",
    "Your website is very slow on my phone today.",
    "Can I get an invoice with my company's VAT number on it?",
    "Is there a way to export my data to a spreadsheet?",
    "I would like to close my account, please.",
    "Do you ship to Canada?",
    "The app shows prices in dollars, I want euros.",
    "Can two people share one subscription?",
    "How do I turn off the marketing newsletter?",
    "Is my personal data stored in Europe?",
    "Your phone line was busy all morning, is there a chat?",
]


@dataclass(frozen=True)
class Said:
    email: str
    name: str
    text: str
    at: datetime
    answered: bool = False
    card: str | None = None  # feedback logged from the ticket, on the card with this title


@lru_cache(maxsize=1)
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def people(topic: str, texts: list[str], at: datetime, *, answered: int = 0, start: int = 0) -> list[Said]:
    """One message per customer: "<topic>1@example.com" … named "Name<n> Surname"."""
    return [Said(f"{topic}{start + n}@example.com", f"{topic.capitalize()}{start + n} Surname", text,
                 at + timedelta(minutes=n), answered=n < answered)
            for n, text in enumerate(texts)]


def background(at: datetime, week: int) -> list[Said]:
    """Twelve one-off questions, from twelve customers of their own."""
    return [Said(f"other{week}-{n}@example.com", f"Other{n} Person", text, at + timedelta(hours=2, minutes=n))
            for n, text in enumerate(ONE_OFFS)]


def seed(db, said: list[Said], platform: str | None = None) -> list[int]:
    """Each message opens a ticket (with a thread on ``platform``, when given); its vector stored."""
    vectors = embedder().embed([s.text for s in said])
    ids = []
    with db.transaction() as session:
        cards: dict[str, int] = {}
        for s, vector in zip(said, vectors):
            at = s.at.astimezone(timezone.utc)
            ticket = Ticket(subject="", customer_email=s.email, customer_name=s.name, created_at=at, updated_at=at,
                            last_customer_at=at)
            session.add(ticket)
            session.flush()
            message = TicketMessage(ticket_id=ticket.id, kind="customer", text=s.text, created_at=at)
            session.add(message)
            session.flush()
            session.add(MessageVector(kind=message_vectors.MESSAGE, ref_id=message.id, model=embedder().name,
                                      vector=message_vectors.encode(vector), created_at=at))
            if s.answered:
                session.add(TicketMessage(ticket_id=ticket.id, kind="reply", text="Sorted, sorry!",
                                          delivery_state="sent", created_at=at + timedelta(hours=1)))
            if platform:
                session.add(ThreadAnchor(ticket_id=ticket.id, platform=platform, channel="CSUPPORT",
                                         thread_id=f"1700000{ticket.id:03d}.000100"))
            if s.card:
                if s.card not in cards:
                    card = SuggestionCard(title=s.card, status="planned")
                    session.add(card)
                    session.flush()
                    cards[s.card] = card.id
                session.add(SuggestionRequest(card_id=cards[s.card], text=s.text, customer_email=s.email,
                                              customer_name=s.name, ticket_id=ticket.id, created_at=at))
            ids.append(ticket.id)
    return ids
