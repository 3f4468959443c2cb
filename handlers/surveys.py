"""Satisfaction surveys: what a survey is, its link and its token. Shared by the side that sends
surveys (handlers.survey_send) and the side that records answers (handlers.survey_answers).

A survey belongs to one ticket (storage.models.Survey). Its link carries a token of 256 random bits;
the database keeps only the token's sha256, so a copy of the database cannot answer for anyone.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from storage.models import Survey, Ticket

# the three answers of "How did we do?", in the order shown, and their words
RATINGS = ("great", "okay", "not_good")
RATING_WORDS = {"great": "Great", "okay": "Okay", "not_good": "Not good"}
RATING_EMOJI = {"great": "😀", "okay": "😐", "not_good": "🙁"}

TOKEN_DAYS = 30  # a survey link works this long after the survey was queued
NPS_EVERY_DAYS = 90  # the NPS and "how did you hear about us?" questions: at most once per customer this often
# "How did you hear about us?": the short list (value → words); "other" takes the customer's own words
REFERRALS = {
    "search": "A search engine",
    "friend": "A friend or colleague",
    "social": "Social media",
    "review": "A review or comparison site",
    "ad": "An advertisement",
    "event": "An event or talk",
}
OTHER = "other"


def new_token() -> str:
    """A survey token: 32 random bytes (256 bits), URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def survey_path(token: str) -> str:
    return f"/survey/{token}"


def survey_link(public_url: str, token: str, rating: str | None = None) -> str:
    """The customer's link: ``PITCHIN_PUBLIC_URL/survey/<token>`` (with ``?rating=`` for a one-click answer)."""
    if rating is not None and rating not in RATINGS:
        raise ValueError(f"not a rating: {rating!r}")
    link = public_url.rstrip("/") + survey_path(token)
    return f"{link}?rating={rating}" if rating else link


def open_survey(session, ticket: Ticket, answered_by_id: int | None, now: datetime,
                email_message_id: str | None = None) -> tuple[Survey, str]:
    """Add the survey of ``ticket`` in the caller's transaction; returns it and its token (which
    nothing else keeps: the caller puts it in the mail). A second survey of one ticket breaks the
    unique ticket_id, so of two processes racing, one commits."""
    token = new_token()
    survey = Survey(ticket_id=ticket.id, customer_email=ticket.customer_email.lower(),
                    customer_name=ticket.customer_name, token_hash=token_hash(token), answered_by_id=answered_by_id,
                    email_message_id=email_message_id, created_at=now, expires_at=now + timedelta(days=TOKEN_DAYS))
    session.add(survey)
    session.flush()
    return survey, token
