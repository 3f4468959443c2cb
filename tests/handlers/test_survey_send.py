"""Satisfaction surveys go out: once, a while after a ticket that got an answer closes, threaded
under the conversation, never to colleagues, robots, the unanswered or the recently asked.

The story runs through the real core (intake, answer, close), the real delivery worker and the real
SmtpChannel into an SMTP server (aiosmtpd) on 127.0.0.1, with the clock moved by hand, on SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryWorker
from bot.inbox.addresses import AllowList
from bot.inbox.customer import CustomerRouter
from bot.inbox.email import SmtpChannel
from bot.inbox.webhook import WebhookChannel
from handlers import registry, survey_send, surveys, tickets
from handlers.base import Actor, InboundMessage, MessageRef, utcnow
from handlers.context import Context
from storage import repos
from storage.models import OutboxJob, Survey, Ticket
from tests.fakes.smtp import SmtpSink
from tests.fakes.webhook import Receiver
from tests.handlers.conftest import drain

FROM = "help@acme.test"
PUBLIC = "https://support.acme.test"
ANN = Actor("test", "U-ANN", "Ann")
HOUR = 3600
DAY = 24 * HOUR
LINK = re.compile(r"https://support\.acme\.test/survey/([A-Za-z0-9_-]+)\?rating=(great|okay|not_good)")


def survey_of(ctx, ticket_id: int) -> Survey | None:
    with ctx.db.transaction(read_only=True) as session:
        return session.execute(select(Survey).where(Survey.ticket_id == ticket_id)).scalar()


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def desk_ctx(any_database, clock):
    return Context(db=any_database, platforms=("test",), undo_seconds=10, mail_domain="acme.test", clock=clock,
                   public_url=PUBLIC, survey_delay_hours=24, survey_days=30)


class Desk:
    """The support desk in a test: customers write, Ann answers and closes, the worker delivers."""

    def __init__(self, ctx: Context, chat, customers, sink: SmtpSink, clock):
        self.ctx, self.sink, self.clock = ctx, sink, clock
        self.worker = DeliveryWorker(ctx, {"test": chat}, customers)
        self.written = 0

    def customer_writes(self, sender="carol@example.com", subject="Double charge", refs=(), **web) -> tuple[int, str]:
        key = f"<{uuid.uuid4().hex}@mail.example.com>"
        if web:
            msg = InboundMessage(source="web", external_key=f"web:{uuid.uuid4().hex}", sender_email=sender,
                                 sender_name="Carol", subject=subject, text="My card was charged twice",
                                 received_at=utcnow(), **web)
        else:
            msg = InboundMessage(source="email", external_key=f"email:{key}", sender_email=sender,
                                 sender_name="Carol", subject=subject, text="My card was charged twice",
                                 received_at=utcnow(), email_message_id=key, in_reply_to=tuple(refs))
        return tickets.intake(self.ctx, msg).ticket_id, key

    def answer(self, ticket_id: int, text="Refunded, sorry!"):
        self.written += 1
        source = MessageRef("test", "", "support", f"msg-{self.written}", "root")
        return tickets.answer(self.ctx, ANN, ticket_id, text, source)

    async def deliver(self) -> None:
        await drain(self.worker)

    async def answered_and_closed(self, sender="carol@example.com", subject="Double charge") -> int:
        ticket_id, _ = self.customer_writes(sender, subject)
        self.answer(ticket_id)
        self.clock.advance(11)  # past the undo window
        await self.deliver()
        assert tickets.close(self.ctx, ANN, ticket_id).ok
        return ticket_id

    def surveys_mailed(self) -> list:
        return [m for m in self.sink.messages if m["Auto-Submitted"]]

    def survey_of(self, ticket_id: int) -> Survey | None:
        return survey_of(self.ctx, ticket_id)

    async def a_day_later(self) -> int:
        """The delay passes; a scheduler round and the delivery worker run. How many were queued."""
        self.clock.advance(DAY + 60)
        queued = survey_send.tick(self.ctx)
        await self.deliver()
        return queued


@pytest.fixture
def desk(desk_ctx, chat, sink, clock):
    return Desk(desk_ctx, chat, SmtpChannel.from_url(sink.url, FROM, from_name="Acme Support"), sink, clock)


# ---------------------------------------------------------------- the story


async def test_the_survey_goes_out_once_after_the_delay_threaded_under_the_conversation(desk):
    ticket_id, first_key = desk.customer_writes()
    desk.answer(ticket_id)
    desk.clock.advance(11)
    await desk.deliver()
    (reply_mail,) = desk.sink.messages
    assert tickets.close(desk.ctx, ANN, ticket_id).ok

    desk.clock.advance(DAY - 60)  # a minute before the delay is over
    assert survey_send.tick(desk.ctx) == 0
    await desk.deliver()
    assert desk.surveys_mailed() == [] and desk.survey_of(ticket_id) is None

    desk.clock.advance(120)
    assert survey_send.tick(desk.ctx) == 1
    await desk.deliver()
    (mail,) = desk.surveys_mailed()
    survey = desk.survey_of(ticket_id)

    # threaded under the conversation, marked as automatic
    assert mail["Subject"] == "Re: Double charge"
    assert mail["In-Reply-To"] == reply_mail["Message-ID"]
    assert mail["References"].split() == [first_key, reply_mail["Message-ID"]]
    assert mail["Message-ID"] == survey.email_message_id
    assert mail["Message-ID"] not in (first_key, reply_mail["Message-ID"])
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.rcpt_tos == ["carol@example.com"] and mail["From"] == "Acme Support <help@acme.test>"

    # a text part and an HTML part, each with the three one-click links of one token
    assert mail.message.get_content_type() == "multipart/alternative"
    text = mail.text
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert "How did we do?" in text and "How did we do?" in html
    for body in (text, html):
        found = LINK.findall(body)
        assert [rating for _, rating in found] == ["great", "okay", "not_good"]
        assert len({token for token, _ in found}) == 1
    token = LINK.findall(text)[0][0]
    assert LINK.findall(html)[0][0] == token
    assert len(token) >= 43  # 256 random bits, URL-safe: at least 128 bits as the issue asks
    assert surveys.token_hash(token) == survey.token_hash
    assert token not in (survey.token_hash or "")

    # recorded: sent, by whom the customer was answered
    with desk.ctx.db.transaction(read_only=True) as session:
        ann = repos.person_for(session, ANN).id
    assert survey.sent_at is not None and survey.answered_by_id == ann
    assert survey.customer_email == "carol@example.com"

    # another round and another run of the worker send nothing more
    desk.clock.advance(HOUR)
    assert survey_send.tick(desk.ctx) == 0
    await desk.deliver()
    assert len(desk.surveys_mailed()) == 1


async def test_an_answer_to_the_survey_mail_alone_joins_its_ticket(desk):
    """A mail client that refers only to the survey mail (In-Reply-To, no References) still finds the
    ticket: the customer's "one more thing" reopens it rather than opening another."""
    ticket_id = await desk.answered_and_closed()
    assert await desk.a_day_later() == 1
    (mail,) = desk.surveys_mailed()

    followup, _ = desk.customer_writes(refs=(mail["Message-ID"],))
    assert followup == ticket_id
    with desk.ctx.db.transaction(read_only=True) as session:
        assert session.get(Ticket, ticket_id).status == "open"
    # someone else quoting the same Message-ID is not the ticket's customer: a ticket of their own
    other, _ = desk.customer_writes(sender="mallory@example.org", refs=(mail["Message-ID"],))
    assert other != ticket_id


async def test_a_re_subject_is_not_doubled_and_the_greeting_uses_the_name(desk):
    ticket_id = await desk.answered_and_closed(subject="Re: Invoice 7")
    assert await desk.a_day_later() == 1
    (mail,) = desk.surveys_mailed()
    assert mail["Subject"] == "Re: Invoice 7"
    assert mail.text.startswith("Hi Carol,\n")
    assert "“Re: Invoice 7”" in mail.text
    assert desk.survey_of(ticket_id).sent_at is not None


# ---------------------------------------------------------------- who is never asked


@pytest.mark.parametrize("sender", [
    "dave@acme.test",  # a colleague: the company's own domain (PITCHIN_FROM_EMAIL's)
    "Eve@EU.Acme.Test",  # its subdomains too, in any case
    "no-reply@shop.example", "noreply@shop.example", "DoNotReply@shop.example", "do-not-reply@shop.example",
    "mailer-daemon@mx.example", "postmaster@example.org", "bounce+1234@lists.example", "shop.noreply@example.net",
])
async def test_no_survey_to_colleagues_and_robots(desk, sender):
    ticket_id = await desk.answered_and_closed(sender=sender)
    assert [[a.lower() for a in m.rcpt_tos] for m in desk.sink.messages] == [[sender.lower()]]  # the answer went
    assert await desk.a_day_later() == 0
    assert desk.surveys_mailed() == [] and desk.survey_of(ticket_id) is None


async def test_no_survey_for_a_ticket_closed_without_an_answer_or_with_only_a_note(desk):
    unanswered, _ = desk.customer_writes(sender="frank@example.com")
    noted, _ = desk.customer_writes(sender="grace@example.com")
    desk.answer(noted, "note: billing is on it")
    for ticket_id in (unanswered, noted):
        assert tickets.close(desk.ctx, ANN, ticket_id).ok
    assert await desk.a_day_later() == 0
    assert desk.sink.messages == []


async def test_no_survey_when_the_only_reply_was_taken_back(desk):
    ticket_id, _ = desk.customer_writes()
    reply = desk.answer(ticket_id, "oops, wrong ticket")
    assert registry.run_action(desk.ctx, ANN, "reply.undo", reply.actions[0].value).ok
    desk.clock.advance(11)
    await desk.deliver()
    assert tickets.close(desk.ctx, ANN, ticket_id).ok
    assert await desk.a_day_later() == 0
    assert desk.sink.messages == [] and desk.survey_of(ticket_id) is None


async def test_no_survey_when_the_only_reply_failed(desk):
    desk.sink.reject("carol@example.com", 550)  # the answer is refused for good
    ticket_id, _ = desk.customer_writes()
    desk.answer(ticket_id)
    desk.clock.advance(11)
    await desk.deliver()
    assert tickets.close(desk.ctx, ANN, ticket_id).ok
    desk.sink.accept("carol@example.com")
    assert await desk.a_day_later() == 0
    assert desk.sink.messages == [] and desk.survey_of(ticket_id) is None


async def test_a_customer_is_asked_at_most_once_in_survey_days_across_tickets(desk):
    await desk.answered_and_closed()
    assert await desk.a_day_later() == 1
    assert len(desk.surveys_mailed()) == 1

    desk.clock.advance(10 * DAY)  # another ticket of hers (written otherwise), answered and closed
    second = await desk.answered_and_closed(sender="Carol@Example.COM", subject="Another question")
    assert await desk.a_day_later() == 0
    assert len(desk.surveys_mailed()) == 1 and desk.survey_of(second) is None

    desk.clock.advance(20 * DAY)  # 30 days after her survey: asked again
    third = await desk.answered_and_closed(subject="A third question")
    assert await desk.a_day_later() == 1
    mails = desk.surveys_mailed()
    assert len(mails) == 2 and mails[1]["Subject"] == "Re: A third question"
    assert desk.survey_of(third).sent_at is not None


async def test_two_tickets_of_one_customer_due_in_one_round_get_one_survey(desk):
    await desk.answered_and_closed(subject="First")
    latest = await desk.answered_and_closed(sender="CAROL@example.com", subject="Second")
    await desk.answered_and_closed(sender="heidi@example.com", subject="Hers")
    assert await desk.a_day_later() == 2
    mails = desk.surveys_mailed()
    assert sorted((m.rcpt_tos[0].lower(), str(m["Subject"])) for m in mails) == [
        ("carol@example.com", "Re: Second"), ("heidi@example.com", "Re: Hers")]
    assert desk.survey_of(latest) is not None  # the latest closed of hers


async def test_a_ticket_closed_long_before_gets_no_survey(desk):
    """Switching surveys on (or upgrading) does not mail the customers of the past."""
    await desk.answered_and_closed()
    desk.clock.advance(3 * DAY)
    assert await desk.a_day_later() == 0
    assert desk.surveys_mailed() == []


async def test_surveys_off_send_nothing(desk):
    desk.ctx.surveys = False
    await desk.answered_and_closed()
    assert await desk.a_day_later() == 0
    assert desk.surveys_mailed() == []


async def test_without_a_public_url_nothing_is_sent_and_the_admin_is_told_once(desk, caplog, monkeypatch):
    monkeypatch.setattr(survey_send, "_told_no_public_url", False)
    desk.ctx.public_url = ""
    ticket_id = await desk.answered_and_closed()
    with caplog.at_level(logging.WARNING, logger="pitchin.surveys"):
        assert await desk.a_day_later() == 0
        assert survey_send.tick(desk.ctx) == 0
    told = [r.getMessage() for r in caplog.records if r.name == "pitchin.surveys"]
    assert len(told) == 1 and "PITCHIN_PUBLIC_URL is not set" in told[0] and "PITCHIN_SURVEYS=off" in told[0]
    assert desk.surveys_mailed() == [] and desk.survey_of(ticket_id) is None


# ---------------------------------------------------------------- reopened, retried


async def test_a_ticket_reopened_after_its_survey_was_queued_gets_none_and_a_later_close_surveys(desk):
    ticket_id, first_key = desk.customer_writes()
    desk.answer(ticket_id)
    desk.clock.advance(11)
    await desk.deliver()
    tickets.close(desk.ctx, ANN, ticket_id)
    desk.clock.advance(DAY + 60)
    assert survey_send.tick(desk.ctx) == 1  # queued; before the worker sends it, the customer writes again
    again, _ = desk.customer_writes(refs=(first_key,))
    assert again == ticket_id
    await desk.deliver()
    assert desk.surveys_mailed() == [] and desk.survey_of(ticket_id) is None  # withdrawn

    desk.answer(ticket_id, "Done now.")
    desk.clock.advance(11)
    await desk.deliver()
    assert tickets.close(desk.ctx, ANN, ticket_id).ok
    assert await desk.a_day_later() == 1
    (mail,) = desk.surveys_mailed()
    assert desk.survey_of(ticket_id).sent_at is not None
    assert mail["Subject"] == "Re: Double charge"


async def test_a_ticket_reopened_and_closed_again_before_sending_waits_for_its_new_delay(desk):
    ticket_id = await desk.answered_and_closed()
    desk.clock.advance(DAY + 60)
    assert survey_send.tick(desk.ctx) == 1
    assert tickets.reopen(desk.ctx, ANN, ticket_id).ok
    assert tickets.close(desk.ctx, ANN, ticket_id).ok
    await desk.deliver()
    assert desk.surveys_mailed() == [] and desk.survey_of(ticket_id) is None
    assert await desk.a_day_later() == 1
    assert len(desk.surveys_mailed()) == 1


async def test_a_survey_waits_out_an_smtp_outage_and_goes_once(desk):
    ticket_id = await desk.answered_and_closed()
    desk.sink.stop()
    assert await desk.a_day_later() == 1  # queued; the mail server is down
    assert desk.survey_of(ticket_id).sent_at is None
    desk.sink.start()  # same port
    desk.clock.advance(10 * 60)  # past the retry's back-off
    await desk.deliver()
    (mail,) = desk.surveys_mailed()
    survey = desk.survey_of(ticket_id)
    assert survey.sent_at is not None and mail["Message-ID"] == survey.email_message_id
    desk.clock.advance(HOUR)
    await desk.deliver()
    assert survey_send.tick(desk.ctx) == 0
    assert len(desk.surveys_mailed()) == 1


async def test_a_survey_mail_given_up_on_does_not_spare_the_customer_the_next_one(desk):
    first = await desk.answered_and_closed()
    desk.sink.stop()
    assert await desk.a_day_later() == 1  # queued; the mail server is down
    desk.clock.advance(25 * HOUR)  # the outbox gives up after RETRY_FOR
    await desk.deliver()
    assert desk.survey_of(first).sent_at is None and desk.surveys_mailed() == []
    with desk.ctx.db.transaction(read_only=True) as session:
        (job,) = [j for (j,) in session.execute(select(OutboxJob)) if j.kind == survey_send.SURVEY_JOB]
    assert job.state == "failed"

    desk.sink.start()
    second = await desk.answered_and_closed(subject="Another question")
    assert await desk.a_day_later() == 1  # she was never asked: this one asks her
    (mail,) = desk.surveys_mailed()
    assert mail["Subject"] == "Re: Another question" and desk.survey_of(second).sent_at is not None


async def test_a_web_form_ticket_gets_its_survey_through_the_webhook(desk_ctx, chat, sink, clock):
    receiver = await Receiver().start()
    try:
        router = CustomerRouter(SmtpChannel.from_url(sink.url, FROM),
                                WebhookChannel("hook-secret", AllowList.parse("127.0.0.1"), timeout=5))
        desk = Desk(desk_ctx, chat, router, sink, clock)
        ticket_id, _ = desk.customer_writes(sender="ivan@example.com", reply_url=receiver.url)
        desk.answer(ticket_id)
        clock.advance(11)
        await desk.deliver()
        assert tickets.close(desk_ctx, ANN, ticket_id).ok
        assert await desk.a_day_later() == 1
        await router.close()
    finally:
        await receiver.stop()
    import json

    answer, survey_post = (json.loads(r.body) for r in receiver.requests)
    assert answer["text"] == "Refunded, sorry!"
    assert survey_post["subject"] == "Re: Double charge" and survey_post["to"] == "ivan@example.com"
    assert [rating for _, rating in LINK.findall(survey_post["text"])] == ["great", "okay", "not_good"]
    survey = desk.survey_of(ticket_id)
    assert survey.sent_at is not None and survey_post["message_id"] == survey.email_message_id
    assert sink.messages == []  # nothing by email


# ---------------------------------------------------------------- the pure parts


@pytest.mark.parametrize("email, why", [
    ("carol@example.com", None),
    ("carol@notacme.test", None),  # a domain that merely ends like ours
    ("reply@example.com", None),
    ("noreplyneeded-person@example.com", None),
    ("ann@acme.test", "an address of the company's own domain"),
    ("ann@support.ACME.test", "an address of the company's own domain"),
    ("no_reply@example.com", "an automatic sender's address"),
    ("bounces-12@lists.example.com", "an automatic sender's address"),
    ("MAILER-DAEMON@example.com", "an automatic sender's address"),
    ("not an address", "not an email address"),
])
def test_who_is_never_surveyed(email, why):
    assert survey_send.not_surveyed_because(email, "acme.test") == why


def test_the_survey_mail_escapes_what_the_customer_wrote_and_loads_nothing():
    from html.parser import HTMLParser

    from handlers.survey_mail import survey_mail

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.attrs, self.words = set(), [], []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self.attrs += attrs

        def handle_data(self, data):
            self.words.append(data)

    mail = survey_mail(PUBLIC, "tok", "Mallory <script>alert(1)</script>", 'Hi <img src="https://evil.example/x">&co')
    read = Tags()
    read.feed(mail.html)
    # the customer's words stay words; nothing is loaded from anywhere (no images, styles, scripts)
    assert read.tags <= {"html", "head", "meta", "title", "body", "table", "tr", "td", "p", "a"}
    assert {name for name, _ in read.attrs} <= {"lang", "charset", "name", "content", "style", "role", "width",
                                                "cellpadding", "cellspacing", "border", "align", "href"}
    assert not any("url(" in value or "@import" in value for name, value in read.attrs if name == "style")
    assert "Hi Mallory <script>alert(1)</script>," in "".join(read.words)
    assert 'Hi <img src="https://evil.example/x">&co' in "".join(read.words)
    # the only addresses in it are the three links
    assert [value for name, value in read.attrs if name == "href"] == [
        surveys.survey_link(PUBLIC, "tok", r) for r in surveys.RATINGS]
    assert mail.text.startswith("Hi Mallory <script>alert(1)</script>,\n")  # plain text is inert as it is


async def test_the_scheduler_runs_survey_rounds(tmp_path):
    """`pitchin serve` and `pitchin worker` look for due surveys: the round runs as soon as a process leads."""
    import asyncio
    import time
    from datetime import timedelta

    from bot.app import Pitchin
    from bot.config import load_settings
    from bot.scheduler import start_scheduler
    from storage.models import TicketMessage

    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PITCHIN_PUBLIC_URL": PUBLIC + "/",
                              "PITCHIN_MAILDIR": str(tmp_path / "mail"), "PITCHIN_FROM_EMAIL": FROM}, dotenv=None)
    pitchin = Pitchin(settings)
    try:
        closed = utcnow() - timedelta(hours=25)
        with pitchin.db.transaction() as session:
            ticket = Ticket(subject="Double charge", customer_email="carol@example.com", status="closed",
                            closed_at=closed)
            session.add(ticket)
            session.flush()
            session.add(TicketMessage(ticket_id=ticket.id, kind="reply", text="Refunded", delivery_state="sent"))
            ticket_id = ticket.id
        scheduler = await start_scheduler(pitchin)
        try:
            deadline = time.monotonic() + 20
            while (survey := survey_of(pitchin.ctx, ticket_id)) is None:
                assert time.monotonic() < deadline, "no survey round ran"
                await asyncio.sleep(0.05)
        finally:
            await scheduler.stop()
        assert survey.sent_at is None  # queued; the delivery worker (not started here) sends it
        with pitchin.db.transaction(read_only=True) as session:
            assert repos.pending_jobs(session) == 1
    finally:
        pitchin.db.dispose()
