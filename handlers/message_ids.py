"""The Message-IDs of mail Pitchin sends, made in one place: a customer's mail client threads our
answers by them, and their replies find the ticket by them (In-Reply-To, References)."""

from __future__ import annotations

import uuid


def make(domain: str, *words: str) -> str:
    """``<pitchin.{words}@{domain}>``. With no words a new random one (every answer its own mail);
    with words (card, outcome, digest …) the same each time, so a resent mail is recognisably the same."""
    domain = (domain or "").strip().strip("<>").split("@")[-1] or "pitchin.invalid"
    return f"<pitchin.{'.'.join(words) or uuid.uuid4().hex}@{domain}>"
