"""Sending satisfaction surveys: one short mail a while after a ticket that got an answer closes.

One scheduler job (bot/scheduler.py, every ROUND_SECONDS on the leader) calls ``tick``. A ticket is
due when it has stayed closed for PITCHIN_SURVEY_DELAY_HOURS (and at most LOOK_BACK longer: turning
surveys on, or upgrading, must not mail every customer of the past), the customer got an answer (a
reply that went out: one taken back, given up on or kept internal does not count), it has no survey
yet, and its customer got no survey in the last PITCHIN_SURVEY_DAYS, for any ticket (one whose mail
the outbox gave up on is none). Never to an
address of the company's own domain (colleagues asking for help) nor to a robot's (no-reply …).

Each due ticket is surveyed in a transaction of its own that checks all this again: its Survey row
(handlers.surveys.open_survey) and the outbox job that mails it commit together. Survey.ticket_id is
unique, so a ticket is surveyed once whoever queues it; and as each check reads the surveys committed
before it, two tickets of one customer due in one round get one survey. Rounds run on the one
scheduler leader, so two rounds never race over one customer.

The mail is written when it goes (``outgoing_survey``, called by the delivery worker): a ticket
reopened since its survey was queued gets none, and the survey is withdrawn (its row deleted) so
that the next close surveys again. A crash between sending the mail and recording ``sent_at``
sends it again with the same Message-ID, as with replies: a mail client shows one message.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from handlers import message_ids, outbound, surveys
from handlers.base import DeliveryError, OutgoingReply
from handlers.context import Context
from handlers.outbound import customer_key, reply_subject
from handlers.survey_mail import survey_mail
from storage import repos
from storage.models import Survey, Ticket, TicketMessage

log = logging.getLogger("pitchin.surveys")

SURVEY_JOB = "customer.survey"  # outbox job kind: {survey_id, token}
ROUND_SECONDS = 60  # how often the scheduler looks (one small read when nothing is due)
# a ticket closed longer than the delay and this ago gets no survey: an answer that old is forgotten,
# and switching surveys on (or upgrading Pitchin) must not mail every customer of the past
LOOK_BACK = timedelta(days=1)
THREAD_REFERENCES = 20  # the latest Message-IDs of the conversation the survey mail refers to
# local parts of addresses no person reads: no-reply, do-not-reply, mailer-daemon, postmaster,
# bounces (also with a prefix or suffix: shop.noreply, bounce+1234)
_ROBOT = re.compile(r"(?:^|[._+-])(?:no[._-]?reply|do[._-]?not[._-]?reply|mailer[._-]?daemon|postmaster|bounces?)"
                    r"(?:$|[._+-])")

_told_no_public_url = False  # the warning about a missing PITCHIN_PUBLIC_URL is logged once per process


# ---------------------------------------------------------------- who may be asked (pure)


def own_domain(email: str, company_domain: str) -> bool:
    """Whether ``email`` is at the company's own domain (or a subdomain of it): a colleague."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    company = (company_domain or "").strip().lower().rstrip(".")
    return bool(company) and (domain == company or domain.endswith("." + company))


def robot_address(email: str) -> bool:
    """Whether nobody reads ``email``: no-reply addresses, mail systems, bounce handlers."""
    return bool(_ROBOT.search(email.partition("@")[0].strip().lower()))


def not_surveyed_because(email: str, company_domain: str) -> str | None:
    """Why a customer with this address is never surveyed, or None when they may be."""
    email = (email or "").strip()
    if "@" not in email or any(c.isspace() for c in email):
        return "not an email address"
    if own_domain(email, company_domain):
        return "an address of the company's own domain"
    if robot_address(email):
        return "an automatic sender's address"
    return None


# ---------------------------------------------------------------- which tickets


def _due(ctx: Context, now: datetime):
    """(ticket id, customer email) of the tickets whose survey is due, the latest closed first;
    the address checks (own domain, robots) are ``not_surveyed_because``'s."""
    closed_before = now - timedelta(hours=ctx.survey_delay_hours)
    answered = select(TicketMessage.id).where(TicketMessage.ticket_id == Ticket.id, TicketMessage.kind == "reply",
                                              TicketMessage.delivery_state == "sent").exists()
    surveyed = select(Survey.id).where(Survey.ticket_id == Ticket.id).exists()
    # Survey.customer_email is kept in lower case (surveys.open_survey). A survey whose mail had not
    # gone RETRY_FOR after it was queued never will (the outbox gave it up, or it was withdrawn): the
    # customer was not asked, and is not spared the next one
    customer_asked_lately = select(Survey.id).where(
        Survey.customer_email == func.lower(Ticket.customer_email),
        Survey.created_at > now - timedelta(days=ctx.survey_days),
        or_(Survey.sent_at.is_not(None), Survey.created_at > now - outbound.RETRY_FOR)).exists()
    return (select(Ticket.id, Ticket.customer_email)
            .where(Ticket.status == "closed", Ticket.closed_at <= closed_before,
                   Ticket.closed_at > closed_before - LOOK_BACK, answered, ~surveyed, ~customer_asked_lately)
            .order_by(Ticket.closed_at.desc(), Ticket.id.desc()))


def due_tickets(ctx: Context, now: datetime) -> list[int]:
    """The tickets whose survey is due now, the latest closed first: of several of one customer's,
    the first queued is the one surveyed (``queue_survey`` checks again, and finds the others' customer
    asked by then)."""
    with ctx.db.transaction(read_only=True) as session:
        rows = session.execute(_due(ctx, now)).all()
    return [ticket_id for ticket_id, email in rows if not_surveyed_because(email, ctx.mail_domain) is None]


def _last_answer_author(session, ticket_id: int) -> int | None:
    return session.execute(
        select(TicketMessage.author_person_id)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.kind == "reply",
               TicketMessage.delivery_state == "sent")
        .order_by(TicketMessage.id.desc()).limit(1)).scalar()


def queue_survey(ctx: Context, ticket_id: int, now: datetime) -> bool:
    """Queue the survey of one ticket of ``due_tickets`` if it is still due, in one transaction: the
    Survey row and its mail's outbox job. False when it is not due any more. IntegrityError when
    another process surveyed it a moment ago."""
    with ctx.db.transaction() as session:
        row = session.execute(_due(ctx, now).where(Ticket.id == ticket_id)).first()
        if row is None:  # closed no more, surveyed, or its customer asked a moment ago
            return False
        ticket = session.get(Ticket, ticket_id)
        # fixed now, so that a resent mail is recognisably the same; random, so that a survey after
        # a withdrawn one is another mail
        mail_id = message_ids.make(ctx.mail_domain, "survey", str(ticket_id), secrets.token_hex(8))
        survey, token = surveys.open_survey(session, ticket, _last_answer_author(session, ticket_id), now,
                                            email_message_id=mail_id)
        job = repos.enqueue(session, SURVEY_JOB, {"survey_id": survey.id, "token": token}, customer_key(ticket_id),
                            run_after=now, flush=False)
        job.created_at = now  # by the context's clock: retries end RETRY_FOR after this
    return True


def _warn_no_public_url() -> None:
    global _told_no_public_url
    if not _told_no_public_url:
        _told_no_public_url = True
        log.warning("Satisfaction surveys are on, but PITCHIN_PUBLIC_URL is not set: the survey links would "
                    "lead nowhere, so no survey is sent. Set PITCHIN_PUBLIC_URL to this server's public address "
                    "(https://support.example.com), or PITCHIN_SURVEYS=off to say you do not want them.")


def tick(ctx: Context, owner: str = "") -> int:
    """Queue the survey of every ticket that is due; how many were queued. Blocking (a worker
    thread). ``owner``: the scheduler lease holder, named in the log."""
    if not ctx.surveys:
        return 0
    if not ctx.public_url:
        _warn_no_public_url()
        return 0
    now = ctx.now()
    queued = 0
    try:
        for ticket_id in due_tickets(ctx, now):
            try:
                queued += queue_survey(ctx, ticket_id, now)
            except IntegrityError:  # surveyed by another process a moment ago: once is enough
                log.debug("the survey of #%s was queued elsewhere", ticket_id)
    except Exception:  # the database went away: the next round looks again, nothing half-done was kept
        log.exception("surveys: the round stopped after queuing %d; trying again in %s s", queued, ROUND_SECONDS)
    if queued:
        log.info("surveys: %d queued (%s)", queued, owner or "this process")
        ctx.wake()
    return queued


# ---------------------------------------------------------------- for the delivery worker


def outgoing_survey(ctx: Context, survey_id: int, token: str) -> OutgoingReply | None:
    """The survey mail as it goes out now, threaded under the conversation. None when nothing is
    to be sent: the survey is gone, was sent (or answered: it went before a crash), or its ticket
    was reopened since it was queued, and then the survey is withdrawn so that a later close
    surveys again."""
    if not ctx.public_url:
        raise DeliveryError("PITCHIN_PUBLIC_URL is not set, so the survey's links would lead nowhere; "
                            "set it (or PITCHIN_SURVEYS=off)")
    with ctx.db.transaction() as session:
        survey = session.get(Survey, survey_id)
        if survey is None or survey.sent_at is not None or survey.rated_at is not None:
            return None
        ticket = session.get(Ticket, survey.ticket_id)
        if ticket.status != "closed" or ticket.closed_at is None or ticket.closed_at > survey.created_at:
            session.delete(survey)
            log.info("the survey of #%s is withdrawn: the ticket was reopened after it was queued", ticket.id)
            return None
        thread = [m.email_message_id for m in repos.conversation(session, ticket.id) if m.email_message_id
                  and (m.kind == "customer" or (m.kind == "reply" and m.delivery_state == "sent"))]
        mail = survey_mail(ctx.public_url, token, ticket.customer_name, ticket.subject)
        return OutgoingReply(
            ticket_id=ticket.id, reply_id=0, to_email=ticket.customer_email, to_name=ticket.customer_name,
            subject=reply_subject(ticket.subject), text=mail.text, html=mail.html, auto_submitted=True,
            author_name="", message_id=survey.email_message_id, in_reply_to=thread[-1] if thread else None,
            references=tuple(thread[-THREAD_REFERENCES:]), reply_url=ticket.reply_url,
            external_id=ticket.external_id)


def mark_sent(session, survey_id: int, now: datetime) -> None:
    """Record that the survey mail went (in the transaction that finishes its outbox job)."""
    survey = session.get(Survey, survey_id)
    if survey is not None:
        survey.sent_at = now
        session.add(survey)
