"""A closed, answered ticket and its survey, as the sending side leaves them (for the survey tests)."""

from __future__ import annotations

import uuid

from sqlmodel import select

from handlers import surveys, tickets
from handlers.base import Actor, InboundMessage, utcnow
from storage import repos
from storage.models import Survey, Ticket

ANN = Actor("test", "U-ANN", "Ann")


def mail(sender="carol@example.com", name="Carol Customer", subject="Double charge"):
    key = f"<{uuid.uuid4().hex}@mail.example.com>"
    return InboundMessage(source="email", external_key=f"email:{key}", sender_email=sender, sender_name=name,
                          subject=subject, text="My card was charged twice.", received_at=utcnow(),
                          email_message_id=key)


def answered_and_closed(ctx, **mail_fields) -> int:
    ticket_id = tickets.intake(ctx, mail(**mail_fields)).ticket_id
    tickets.claim(ctx, ANN, ticket_id)
    tickets.close(ctx, ANN, ticket_id)
    return ticket_id


def survey_of(ctx, ticket_id: int) -> str:
    """A survey for the ticket as the sending side opens it (answered by Ann); its link's token."""
    with ctx.db.transaction() as session:
        ann = repos.person_for(session, ANN)
        _, token = surveys.open_survey(session, session.get(Ticket, ticket_id), ann.id, ctx.now())
    return token


def stored(ctx, token: str) -> Survey:
    with ctx.db.transaction(read_only=True) as session:
        return session.exec(select(Survey).where(Survey.token_hash == surveys.token_hash(token))).one()
