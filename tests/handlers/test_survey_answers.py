"""A customer answers their survey: the rating from the link, the page's form, NPS once in 90 days,
and the news in the ticket's thread. On SQLite and PostgreSQL, through the real delivery worker."""

from __future__ import annotations

import threading
from datetime import timedelta
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from bot.delivery import DeliveryWorker
from handlers import stats, survey_answers, surveys, tickets
from handlers.base import PersonRef
from handlers.card_json import card_from_json
from handlers.context import Context
from handlers.survey_answers import company_name, open_page, submit
from storage.db import Database
from storage.models import OutboxJob, Setting, Survey
from tests.conftest import RecordingChat
from tests.handlers.conftest import drain
from tests.handlers.survey_helpers import ANN, answered_and_closed, stored, survey_of

DAY = 24 * 3600


@pytest.fixture
def any_ctx(any_database, clock):
    return Context(db=any_database, platforms=("test",), mail_domain="acme.com", clock=clock)


@pytest.fixture
def chat():
    return RecordingChat()


@pytest.fixture
def any_worker(any_ctx, chat):
    return DeliveryWorker(any_ctx, {"test": chat}, None)


def notices(ctx) -> list[dict]:
    """The survey notices queued for tickets' threads (payloads, oldest first)."""
    with ctx.db.transaction(read_only=True) as session:
        jobs = session.exec(select(OutboxJob).where(OutboxJob.kind == "chat.notice").order_by(OutboxJob.id)).all()
    return [job.payload for job in jobs if "card" in job.payload]


# ---------------------------------------------------------------- the rating


def test_the_link_records_the_rating_and_a_second_click_changes_it(any_ctx, clock):
    token = survey_of(any_ctx, answered_and_closed(any_ctx))
    page = open_page(any_ctx, token, "great")
    assert page.found and page.rating == "great" and page.recorded == ("rating",)
    assert page.first_name == "Carol" and page.subject == "Double charge"
    first = stored(any_ctx, token)
    assert first.rating == "great" and first.rated_at is not None

    clock.advance(60)
    assert open_page(any_ctx, token, "okay").rating == "okay"
    changed = stored(any_ctx, token)
    assert changed.rating == "okay" and changed.rated_at > first.rated_at
    # the same answer again is the same vote, given when it was first given
    clock.advance(60)
    open_page(any_ctx, token, "okay")
    assert stored(any_ctx, token).rated_at == changed.rated_at
    with any_ctx.db.transaction(read_only=True) as session:
        assert len(session.exec(select(Survey)).all()) == 1
    # a page opened without a rating, or with a made-up one, changes nothing
    assert open_page(any_ctx, token).rating == "okay"
    wrong = open_page(any_ctx, token, "superb")
    assert wrong.rating == "okay" and wrong.recorded == ()
    assert wrong.errors["rating"] == "“superb” is not one of the answers: choose Great, Okay, Not good."


def test_unknown_and_expired_links_open_nothing(any_ctx, clock):
    token = survey_of(any_ctx, answered_and_closed(any_ctx))
    assert open_page(any_ctx, surveys.new_token(), "great") == survey_answers.NOT_FOUND
    assert submit(any_ctx, surveys.new_token(), {"comment": "hello"}) == survey_answers.NOT_FOUND
    assert open_page(any_ctx, "", "great") == survey_answers.NOT_FOUND
    clock.advance(surveys.TOKEN_DAYS * DAY - 60)
    assert open_page(any_ctx, token, "great").found
    clock.advance(120)  # the link is 30 days and a minute old
    assert not open_page(any_ctx, token, "not_good").found
    assert not submit(any_ctx, token, {"comment": "late"}).found
    late = stored(any_ctx, token)
    assert late.rating == "great" and late.comment is None


# ---------------------------------------------------------------- NPS: once per customer every 90 days


def test_nps_is_asked_on_the_first_page_a_customer_sees_in_90_days(any_ctx, clock):
    first = survey_of(any_ctx, answered_and_closed(any_ctx))
    assert open_page(any_ctx, first, "great").ask_nps
    clock.advance(3600)
    assert open_page(any_ctx, first).ask_nps  # the same page, visited again, still asks

    clock.advance(10 * DAY)  # another ticket of hers, ten days on (her address written differently)
    second = survey_of(any_ctx, answered_and_closed(any_ctx, sender="Carol@Example.com"))
    assert not open_page(any_ctx, second, "great").ask_nps
    # a form from that page cannot answer the NPS question anyway
    page = submit(any_ctx, second, {"comment": "", "nps": "10", "referral": "friend"})
    assert page.errors == {} and page.nps is None and stored(any_ctx, second).nps is None
    # someone else is asked
    other = survey_of(any_ctx, answered_and_closed(any_ctx, sender="dan@example.org", name="Dan"))
    assert open_page(any_ctx, other).ask_nps

    clock.advance(81 * DAY)  # 91 days after her first page
    third = survey_of(any_ctx, answered_and_closed(any_ctx))
    assert open_page(any_ctx, third).ask_nps
    assert not open_page(any_ctx, second).ask_nps  # expired anyway, and never asked
    assert [stored(any_ctx, t).nps_offered for t in (first, second, third)] == [True, False, True]


def test_two_pages_of_one_customer_opened_at_once_ask_once(any_database, clock):
    """Two processes (two engines on one database) open two pages of the same customer at once."""
    one = Context(db=any_database, platforms=("test",), clock=clock)
    two = Context(db=Database(any_database.url), platforms=("test",), clock=clock)
    try:
        tokens = [survey_of(one, answered_and_closed(one)) for _ in range(2)]
        start = threading.Barrier(2)

        def open_it(ctx, token):
            start.wait()
            return open_page(ctx, token).ask_nps

        with ThreadPoolExecutor(2) as pool:
            asked = list(pool.map(open_it, (one, two), tokens))
        assert sorted(asked) == [False, True]
        assert sorted(stored(one, t).nps_offered for t in tokens) == [False, True]
    finally:
        two.db.dispose()


# ---------------------------------------------------------------- the form


def test_answers_are_stored_and_can_be_changed(any_ctx, clock):
    token = survey_of(any_ctx, answered_and_closed(any_ctx))
    open_page(any_ctx, token, "great")
    page = submit(any_ctx, token, {"comment": "  Quick and kind.\n", "nps": "9", "referral": "friend",
                                   "referral_other": "ignored unless other"})
    assert page.errors == {} and page.recorded == ("comment", "nps", "referral")
    row = stored(any_ctx, token)
    assert (row.comment, row.nps, row.referral, row.referral_other) == ("Quick and kind.", 9, "friend", None)
    assert row.commented_at is not None and row.nps_at is not None

    clock.advance(60)
    page = submit(any_ctx, token, {"comment": "Quick and kind.", "nps": "", "referral": "other",
                                   "referral_other": "  a   podcast  ", "rating": "okay"})
    assert page.errors == {} and page.rating == "okay"
    row = stored(any_ctx, token)
    # an empty NPS leaves the answer given; "other" keeps the customer's words
    assert (row.rating, row.nps, row.referral, row.referral_other) == ("okay", 9, "other", "a podcast")
    # emptying the comment box takes the comment back
    submit(any_ctx, token, {"comment": "   "})
    assert stored(any_ctx, token).comment is None


def test_wrong_values_are_explained_and_nothing_else_is_lost(any_ctx):
    token = survey_of(any_ctx, answered_and_closed(any_ctx))
    open_page(any_ctx, token)
    long_comment = "x" * (survey_answers.COMMENT_LIMIT + 1)
    page = submit(any_ctx, token, {"comment": long_comment, "nps": "11", "referral": "search", "rating": "meh"})
    assert page.errors == {
        "comment": "Your comment is 2,001 characters long; the limit is 2,000. Please shorten it and send it again.",
        "nps": "Choose a number from 0 (not likely) to 10 (very likely).",
        "rating": "“meh” is not one of the answers: choose Great, Okay, Not good.",
    }
    assert page.comment == long_comment  # shown back to be shortened
    assert page.referral == "search" and page.recorded == ("referral",)
    row = stored(any_ctx, token)
    assert (row.comment, row.nps, row.rating, row.referral) == (None, None, None, "search")

    too_long = "y" * (survey_answers.OTHER_LIMIT + 1)
    page = submit(any_ctx, token, {"comment": "Fine.", "nps": "seven", "referral": "other", "referral_other": too_long})
    assert page.errors["nps"] == "Choose a number from 0 (not likely) to 10 (very likely)."
    assert page.errors["referral"] == "Please say where you heard about us in at most 200 characters (you wrote 201)."
    assert (page.referral, page.referral_other, page.comment) == ("other", too_long, "Fine.")
    assert stored(any_ctx, token).comment == "Fine."
    page = submit(any_ctx, token, {"referral": "tv"})
    assert page.errors == {"referral": "Choose one of the answers listed, or “Other” and say where in a few words."}
    assert stored(any_ctx, token).referral == "search"
    # characters nobody types (PostgreSQL would refuse a NUL) are dropped
    submit(any_ctx, token, {"comment": "ok\x00 then\x07\n\tbye"})
    assert stored(any_ctx, token).comment == "ok then\n\tbye"


def test_the_company_is_named_after_the_mail_domain():
    assert company_name("example.com") == "Example"
    assert company_name("support.acme.co.uk") == "Acme"
    assert company_name("mail.globex.io") == "Globex"
    assert company_name("pitchin.invalid") == "us"
    page = survey_answers.SurveyPage(found=True, company="Acme")
    assert page.nps_question == "How likely is it that you would recommend Acme to a friend or colleague?"


def test_one_form_secret_for_every_process(any_database, clock):
    one = Context(db=any_database, clock=clock)
    two = Context(db=Database(any_database.url), clock=clock)
    try:
        secret = survey_answers.form_secret(two)
        assert len(secret) == 32 and survey_answers.form_secret(one) == secret
        with any_database.transaction(read_only=True) as session:
            assert len(session.exec(select(Setting).where(Setting.key == survey_answers.FORM_SECRET_KEY)).all()) == 1
    finally:
        two.db.dispose()


# ---------------------------------------------------------------- news in the ticket's thread


def _card(payload):
    return card_from_json(payload["card"])


async def test_not_good_reaches_the_answerer_in_the_thread_once_with_reopen(any_ctx, any_worker, chat, clock):
    ticket_id = answered_and_closed(any_ctx)
    await drain(any_worker)
    token = survey_of(any_ctx, ticket_id)
    open_page(any_ctx, token, "not_good")
    open_page(any_ctx, token, "not_good")  # the same click again, and the page seen again: no news
    open_page(any_ctx, token)
    (notice,) = notices(any_ctx)
    assert notice["platform"] == "test" and notice["ticket_id"] == ticket_id
    card = _card(notice)
    assert card.title == f"🙁 Survey answer · #{ticket_id} · Double charge"
    assert ("Rating", ("🙁 Not good",)) in card.fields
    assert card.status == ("For ", PersonRef("Ann", (("test", "U-ANN"),)), ": the customer is not happy with this "
                           "answer. Reopen the ticket to follow up with them.")
    assert [(b.label, b.action_id, b.value) for b in card.actions] == [("Reopen", "ticket.reopen", str(ticket_id))]

    await drain(any_worker)
    assert "root-1" not in chat.thread_cards  # held a few seconds: a mail scanner's click is taken back
    clock.advance(survey_answers.SCANNER_SECONDS)
    await drain(any_worker)
    (posted,) = chat.thread_cards["root-1"]
    assert posted == card  # the worker hands the card itself to the platform

    # the comment is news; the same comment sent again is not
    submit(any_ctx, token, {"comment": "Nobody read my question."})
    submit(any_ctx, token, {"comment": "Nobody read my question."})
    assert len(notices(any_ctx)) == 2
    assert _card(notices(any_ctx)[-1]).body == "Nobody read my question."
    # back to Great and then Not good again, a minute apart: told again
    open_page(any_ctx, token, "great")
    assert len(notices(any_ctx)) == 2
    clock.advance(60)
    open_page(any_ctx, token, "not_good")
    assert len(notices(any_ctx)) == 3
    # and the colleague reopens it in one click
    reply = tickets.reopen(any_ctx, ANN, int(_card(notices(any_ctx)[-1]).actions[0].value))
    assert reply.text == f"You reopened #{ticket_id}."


async def test_a_mail_scanner_opening_every_link_counts_for_nothing_and_tells_nobody(any_ctx, any_worker, chat,
                                                                                     clock):
    ticket_id = answered_and_closed(any_ctx)
    await drain(any_worker)
    token = survey_of(any_ctx, ticket_id)
    with any_ctx.db.transaction(read_only=True) as session:
        posted_before = len(session.exec(select(OutboxJob).where(OutboxJob.state == "done")).all())
    first = open_page(any_ctx, token, "not_good")  # the scanner opens the links in the mail's order…
    assert first.recorded == ("rating",) and len(notices(any_ctx)) == 1  # held, not posted yet
    clock.advance(1)
    second = open_page(any_ctx, token, "great")  # …one after another
    assert second.scanned and second.rating is None and second.recorded == ()
    clock.advance(1)
    third = open_page(any_ctx, token, "okay")
    assert third.scanned and third.rating is None
    survey = stored(any_ctx, token)
    assert survey.rating is None and survey.rated_at is None and survey.scanned_at is not None
    clock.advance(60)
    await drain(any_worker)
    assert "root-1" not in chat.thread_cards  # the held "Not good" was taken back: nobody was told
    with any_ctx.db.transaction(read_only=True) as session:
        states = [j.state for j in session.exec(select(OutboxJob).where(OutboxJob.kind == "chat.notice")).all()]
        assert states == ["cancelled"]
        assert len(session.exec(select(OutboxJob).where(OutboxJob.state == "done")).all()) == posted_before
        ratings, _ = stats.satisfaction(session, clock.now() - timedelta(days=1), clock.now())
    assert ratings.total == 0

    # the customer's own click, later, counts and is told
    page = open_page(any_ctx, token, "not_good")
    assert page.recorded == ("rating",) and not page.scanned and stored(any_ctx, token).rating == "not_good"
    clock.advance(survey_answers.SCANNER_SECONDS)
    await drain(any_worker)
    assert len(chat.thread_cards["root-1"]) == 1


async def test_a_comment_right_after_the_click_makes_one_post_with_both(any_ctx, any_worker, chat):
    ticket_id = answered_and_closed(any_ctx)
    await drain(any_worker)
    token = survey_of(any_ctx, ticket_id)
    open_page(any_ctx, token, "not_good")  # held a few seconds
    submit(any_ctx, token, {"comment": "Nobody read my question."})  # replaces it, at once
    await drain(any_worker)
    (posted,) = chat.thread_cards["root-1"]
    assert ("Rating", ("🙁 Not good",)) in posted.fields and posted.body == "Nobody read my question."
    with any_ctx.db.transaction(read_only=True) as session:
        jobs = session.exec(select(OutboxJob).where(OutboxJob.kind == "chat.notice").order_by(OutboxJob.id)).all()
    assert [j.state for j in jobs] == ["cancelled", "done"]


def test_a_change_of_mind_on_the_page_counts_however_quick(any_ctx, clock):
    token = survey_of(any_ctx, answered_and_closed(any_ctx))
    open_page(any_ctx, token, "great")
    clock.advance(2)
    page = open_page(any_ctx, token, "not_good", from_page=True)
    assert page.rating == "not_good" and page.recorded == ("rating",) and not page.scanned
    (notice,) = notices(any_ctx)
    with any_ctx.db.transaction(read_only=True) as session:
        (job,) = session.exec(select(OutboxJob).where(OutboxJob.kind == "chat.notice")).all()
    assert job.run_after.replace(tzinfo=None) <= clock.now().replace(tzinfo=None)  # the customer's: not held
    # two different links of the mail seconds apart are a scanner's, even after a real answer
    clock.advance(120)
    open_page(any_ctx, token, "great")
    clock.advance(1)
    assert open_page(any_ctx, token, "okay").scanned and stored(any_ctx, token).rating is None


async def test_a_detractor_score_is_bad_news_even_after_great(any_ctx):
    ticket_id = answered_and_closed(any_ctx)
    token = survey_of(any_ctx, ticket_id)
    open_page(any_ctx, token, "great")
    assert notices(any_ctx) == []
    submit(any_ctx, token, {"comment": "", "nps": "8"})
    assert notices(any_ctx) == []  # a passive score, no comment: nothing to tell
    submit(any_ctx, token, {"comment": "", "nps": "3"})
    submit(any_ctx, token, {"comment": "", "nps": "5"})  # still a detractor: not news again
    (notice,) = notices(any_ctx)
    card = _card(notice)
    assert ("Would recommend us", ("3 of 10",)) in card.fields and ("Rating", ("😀 Great",)) in card.fields
    assert [b.label for b in card.actions] == ["Reopen"]
    assert notice["text"] == f"🙁 Survey answer for #{ticket_id}: Great, would recommend us 3/10."


async def test_a_comment_with_a_good_rating_is_posted_for_colleagues_to_see(any_ctx):
    ticket_id = answered_and_closed(any_ctx)
    token = survey_of(any_ctx, ticket_id)
    open_page(any_ctx, token, "great")
    submit(any_ctx, token, {"comment": "Ann was brilliant, thank you!"})
    (notice,) = notices(any_ctx)
    card = _card(notice)
    assert card.title.startswith("💬 Survey answer") and card.body == "Ann was brilliant, thank you!"
    assert card.actions == ()
    assert PersonRef("Ann", (("test", "U-ANN"),)) in card.status


async def test_customer_words_stay_neutral_text_in_every_platform(any_ctx):
    """The comment and the customer's name are the card's plain words: Slack escapes them, Teams
    shows them verbatim; the markup-read parts hold only Pitchin's own words and the mention."""
    from bot.slack import render as slack
    from bot.teams import render as teams

    evil = "<!channel> *urgent* <https://evil.example|click here> [pay](https://evil.example)"
    ticket_id = answered_and_closed(any_ctx, name="<@U0BOSS> Mallory", subject="<!here> refund")
    token = survey_of(any_ctx, ticket_id)
    submit(any_ctx, token, {"comment": evil, "rating": "not_good"})
    card = _card(notices(any_ctx)[-1])
    assert card.body == evil
    blocks = str(slack.card_blocks(card))
    assert "<!channel>" not in blocks and "<!here>" not in blocks and "<@U0BOSS>" not in blocks
    assert "&lt;!channel&gt; *urgent* &lt;https://evil.example|click here&gt;" in blocks
    drawn = teams.ticket_card(card)
    markdown = " ".join(b["text"] for b in drawn["body"] if b["type"] == "TextBlock")
    assert "evil" not in markdown and "Mallory" not in markdown and "refund" not in markdown
    runs = [run["text"] for b in drawn["body"] if b["type"] == "RichTextBlock" for run in b["inlines"]]
    assert evil in runs


def test_the_same_bad_news_from_two_processes_at_once_is_posted_once(any_database, clock):
    """The customer double-taps "Not good" and two web processes record it at the same moment."""
    one = Context(db=any_database, platforms=("test",), clock=clock)
    two = Context(db=Database(any_database.url), platforms=("test",), clock=clock)
    try:
        token = survey_of(one, answered_and_closed(one))
        start = threading.Barrier(2)

        def click(ctx):
            start.wait()
            return open_page(ctx, token, "not_good").rating

        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(click, (one, two))) == ["not_good", "not_good"]
        assert len(notices(one)) == 1
    finally:
        two.db.dispose()
