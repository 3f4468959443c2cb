"""The customer's side of a satisfaction survey: the page their link opens, and their answers.

``open_page`` is what a link does (with ``?rating=`` it records that rating at once); ``submit`` is
the page's form (a comment, and now and then the NPS question and "How did you hear about us?").
Both return a ``SurveyPage``: what the page shows, in neutral terms, which bot/survey_page.py draws
as HTML. A second answer replaces the first: one survey, one vote. Bad news and comments go to the
ticket's thread (handlers.survey_notices), through the outbox in the answer's own transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Mapping

from sqlmodel import select

from handlers import surveys, survey_notices
from handlers.context import Context
from handlers.survey_notices import Answers
from storage import repos
from storage.models import Setting, Survey, Ticket

COMMENT_LIMIT = 2000  # characters of a comment
OTHER_LIMIT = 200  # characters of "How did you hear about us?" in the customer's own words
NPS_SCORES = range(0, 11)
# Two different ratings from the mail's links within this long are no customer's: mail scanners
# (Mimecast, Proofpoint, Barracuda, …) open every link of a mail as it arrives, one after another in
# a second or two. Neither counts, and a thread notice of the first is held this long so that it can
# be taken back. A person reads the page before clicking again, and the page's own links say so.
SCANNER_SECONDS = 10

# control characters other than tab and newline: PostgreSQL refuses NUL in text, and the others
# only ever arrive by accident or on purpose, never typed
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# the first label of a mail domain that names a service, not the company ("support.acme.com")
_SERVICE_LABELS = {"mail", "email", "support", "help", "helpdesk", "www", "info", "contact", "service"}


@dataclass(frozen=True)
class SurveyPage:
    """What the customer's page shows. ``found`` is False for an unknown or expired link (nothing
    else is then known). The answer fields hold what is stored, or, next to an error, what the
    customer typed, so a wrong value loses nothing else."""

    found: bool
    first_name: str = ""
    subject: str = ""  # the ticket's subject: what the survey is about
    company: str = ""  # who is asking ("Acme"), or "us" when not known
    rating: str | None = None  # one of surveys.RATINGS
    comment: str = ""
    nps: int | None = None
    referral: str | None = None  # a key of surveys.REFERRALS, or surveys.OTHER
    referral_other: str = ""
    ask_nps: bool = False  # this page asks the NPS question and "How did you hear about us?"
    recorded: tuple[str, ...] = ()  # what this request stored: "rating", "comment", "nps", "referral"
    scanned: bool = False  # this link was one of a mail scanner's burst: no rating was recorded
    errors: Mapping[str, str] = field(default_factory=dict)  # field name → what is wrong and what to do

    @property
    def nps_question(self) -> str:
        return f"How likely is it that you would recommend {self.company} to a friend or colleague?"


NOT_FOUND = SurveyPage(found=False)


def company_name(mail_domain: str) -> str:
    """The company as the NPS question names it, from the domain Pitchin mails from:
    "acme.com" and "support.acme.com" → "Acme". "us" when Pitchin has no address of its own."""
    labels = [label for label in mail_domain.lower().strip(".").split(".") if label]
    if len(labels) < 2 or labels[-1] in ("invalid", "localhost", "local"):
        return "us"
    while len(labels) > 2 and labels[0] in _SERVICE_LABELS:
        labels.pop(0)
    name = labels[0]
    return name[:1].upper() + name[1:]


def first_name(full_name: str) -> str:
    words = full_name.split()
    return words[0] if words else ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def find_survey(session, token: str, now: datetime, lock: bool = False) -> Survey | None:
    """The survey a link's token opens; None when there is none or it has expired. ``lock``: keep
    other transactions off its row until this one ends (two submits at once must not both see the
    old answer and both post a notice)."""
    if not token:
        return None
    query = select(Survey).where(Survey.token_hash == surveys.token_hash(token))
    if lock:
        query = query.with_for_update()
    survey = session.exec(query).first()
    if survey is None or _aware(survey.expires_at) <= now:
        return None
    return survey


def _nps_key(customer_email: str) -> str:
    """The Setting row that says when a customer was last asked the NPS question (the address kept
    as a hash: the settings table is no list of customers)."""
    return "survey.nps_offered:" + hashlib.sha256(customer_email.lower().encode("utf-8")).hexdigest()


def _offer_nps_once(session, survey: Survey, now: datetime) -> None:
    """The first survey page a customer sees in NPS_EVERY_DAYS asks the NPS question, and keeps
    asking it when they come back to that page. Of two pages opened at once, one asks."""
    if survey.nps_offered:
        return
    if repos.first_time_in(session, _nps_key(survey.customer_email), now, timedelta(days=surveys.NPS_EVERY_DAYS)):
        survey.nps_offered = True
        session.add(survey)


def _page(ctx: Context, session, survey: Survey, recorded=(), errors=None, typed: Mapping[str, object] = ()) -> SurveyPage:
    ticket = session.get(Ticket, survey.ticket_id)
    typed = dict(typed)
    return SurveyPage(
        found=True,
        first_name=first_name(survey.customer_name),
        subject=ticket.subject if ticket is not None else "",
        company=company_name(ctx.mail_domain),
        rating=survey.rating,
        comment=typed.get("comment", survey.comment or ""),
        nps=survey.nps,
        referral=typed.get("referral", survey.referral),
        referral_other=typed.get("referral_other", survey.referral_other or ""),
        ask_nps=survey.nps_offered,
        recorded=tuple(recorded),
        errors=dict(errors or {}),
    )


def _rating_error(value: str) -> str:
    choices = ", ".join(surveys.RATING_WORDS[r] for r in surveys.RATINGS)
    return f"“{_short(value)}” is not one of the answers: choose {choices}."


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _set_rating(survey: Survey, rating: str, now: datetime) -> None:
    if survey.rating != rating:  # the same click twice is one answer, at the time it was first given
        survey.rating, survey.rated_at = rating, now


def _scanner_burst(survey: Survey, rating: str, now: datetime) -> bool:
    """Whether a rating from the mail's link is one of a scanner's burst: another rating came by link
    moments ago, or a burst was seen moments ago (a scanner opens all three links)."""
    window = timedelta(seconds=SCANNER_SECONDS)

    def lately(moment: datetime | None) -> bool:
        return moment is not None and now - _aware(moment) < window

    return lately(survey.scanned_at) or (survey.rating not in (None, rating) and lately(survey.rated_at))


def _finish(ctx: Context, session, survey: Survey, before: Answers, hold: timedelta | None = None) -> None:
    session.add(survey)
    ticket = session.get(Ticket, survey.ticket_id)
    if ticket is not None:
        survey_notices.queue_if_news(ctx, session, survey, ticket, before, hold)


def open_page(ctx: Context, token: str, rating: str | None = None, from_page: bool = False) -> SurveyPage:
    """A survey link was opened: record ``rating`` (when it is one) and say what the page shows.
    ``from_page``: the link is the page's own ("Changed your mind?"), not the mail's, so it is the
    customer's for sure; a rating from the mail's link may be a mail scanner's (``SCANNER_SECONDS``)."""
    now = ctx.now()
    with ctx.db.transaction() as session:
        survey = find_survey(session, token, now, lock=True)
        if survey is None:
            return NOT_FOUND
        before = Answers.of(survey)
        recorded, errors, scanned = [], {}, False
        if rating is not None and rating != "":
            if rating not in surveys.RATINGS:
                errors["rating"] = _rating_error(rating)
            elif not from_page and _scanner_burst(survey, rating, now):
                survey.rating, survey.rated_at, survey.scanned_at = None, None, now
                survey_notices.withdraw(ctx, session, survey)
                scanned = True
            else:
                _set_rating(survey, rating, now)
                recorded.append("rating")
        _offer_nps_once(session, survey, now)
        _finish(ctx, session, survey, before, None if from_page else timedelta(seconds=SCANNER_SECONDS))
        return replace(_page(ctx, session, survey, recorded, errors), scanned=scanned)


def clean_text(value: object) -> str:
    """A form field as text: stripped, without control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", value).strip() if isinstance(value, str) else ""


@dataclass
class _Form:
    """The form's fields checked: the valid ones to store, an error for each wrong one."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    typed: dict = field(default_factory=dict)  # wrong values, shown back next to their error


def check_form(form: Mapping[str, str], nps_offered: bool) -> _Form:
    """Check what the page posted. An empty field leaves its answer as it is, but an emptied
    comment box takes the comment back. NPS and referral count only on a page that asked them."""
    checked = _Form()
    rating = clean_text(form.get("rating"))
    if rating:
        if rating in surveys.RATINGS:
            checked.values["rating"] = rating
        else:
            checked.errors["rating"] = _rating_error(rating)
    if "comment" in form:
        comment = clean_text(form.get("comment"))
        if len(comment) > COMMENT_LIMIT:
            checked.errors["comment"] = (f"Your comment is {len(comment):,} characters long; the limit is "
                                         f"{COMMENT_LIMIT:,}. Please shorten it and send it again.")
            checked.typed["comment"] = comment
        else:
            checked.values["comment"] = comment or None
    if not nps_offered:
        return checked
    nps = clean_text(form.get("nps"))
    if nps:
        if nps.isdigit() and int(nps) in NPS_SCORES:
            checked.values["nps"] = int(nps)
        else:
            checked.errors["nps"] = "Choose a number from 0 (not likely) to 10 (very likely)."
    referral = clean_text(form.get("referral"))
    if referral == surveys.OTHER:
        other = " ".join(clean_text(form.get("referral_other")).split())
        if len(other) > OTHER_LIMIT:
            checked.errors["referral"] = (f"Please say where you heard about us in at most {OTHER_LIMIT} characters "
                                          f"(you wrote {len(other):,}).")
            checked.typed.update(referral=surveys.OTHER, referral_other=other)
        else:
            checked.values.update(referral=surveys.OTHER, referral_other=other or None)
    elif referral in surveys.REFERRALS:
        checked.values.update(referral=referral, referral_other=None)
    elif referral:
        checked.errors["referral"] = "Choose one of the answers listed, or “Other” and say where in a few words."
    return checked


def submit(ctx: Context, token: str, form: Mapping[str, str]) -> SurveyPage:
    """The page's form was sent: store every valid answer, and say what is wrong with the others."""
    now = ctx.now()
    with ctx.db.transaction() as session:
        survey = find_survey(session, token, now, lock=True)
        if survey is None:
            return NOT_FOUND
        before = Answers.of(survey)
        checked = check_form(form, survey.nps_offered)
        values, recorded = checked.values, []
        if "rating" in values:
            _set_rating(survey, values["rating"], now)
            recorded.append("rating")
        if "comment" in values:
            if values["comment"] != survey.comment:
                survey.comment, survey.commented_at = values["comment"], now if values["comment"] else None
            if values["comment"]:
                recorded.append("comment")
        if "nps" in values:
            if values["nps"] != survey.nps:
                survey.nps, survey.nps_at = values["nps"], now
            recorded.append("nps")
        if "referral" in values:
            survey.referral, survey.referral_other = values["referral"], values["referral_other"]
            recorded.append("referral")
        _finish(ctx, session, survey, before)
        return _page(ctx, session, survey, recorded, checked.errors, checked.typed)


# ---------------------------------------------------------------- the page's form key

FORM_SECRET_KEY = "survey.form_secret"  # the Setting row holding the secret that signs the page's forms


def form_secret(ctx: Context) -> bytes:
    """32 random bytes, made on first use and kept in the database, so that every process signs and
    checks survey forms alike. Of two processes making it at once, the first to commit wins and the
    other reads that one."""
    with ctx.db.transaction() as session:
        statement = repos.insert_for(session, Setting).values(
            key=FORM_SECRET_KEY, value={"hex": secrets.token_hex(32)}, updated_at=ctx.now())
        session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
        row = session.get(Setting, FORM_SECRET_KEY)
        return bytes.fromhex(row.value["hex"])
