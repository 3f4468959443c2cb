"""The ticket card says when the sender is not verified: a web form's email is whatever was typed,
and a mail whose DMARC check failed may be forged."""

from __future__ import annotations

import uuid

from handlers import tickets
from handlers.base import InboundMessage, utcnow
from handlers.cards import plain
from tests.handlers.conftest import drain


def message(source="email", reply_url=None, dmarc_failed=False) -> InboundMessage:
    key = uuid.uuid4().hex
    return InboundMessage(source=source, external_key=f"{source}:{key}", sender_email="carol@example.com",
                          sender_name="Carol", subject="Where is my order?", text="It has not come.",
                          received_at=utcnow(), reply_url=reply_url, dmarc_failed=dmarc_failed,
                          email_message_id=f"<{key}@example.com>" if source == "email" else None)


def sender_field(card) -> str | None:
    return next((plain(value) for label, value in card.fields if label == "Sender"), None)


async def test_each_card_says_how_far_its_sender_can_be_trusted(ctx, worker, chat):
    tickets.intake(ctx, message("web", reply_url="https://forms.example.com/pitchin/reply?id=7"))
    tickets.intake(ctx, message("web"))
    tickets.intake(ctx, message(dmarc_failed=True))
    tickets.intake(ctx, message())
    await drain(worker)

    assert [sender_field(card) for card in chat.roots.values()] == [
        "⚠️ Email not verified, replies go to forms.example.com",
        "⚠️ Email not verified",
        "⚠️ DMARC failed: this mail may not be from carol@example.com",
        None,
    ]
