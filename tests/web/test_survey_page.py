"""GET and POST /survey/{token} over HTTP (aiohttp's test server, the real app, a real database):
the page, its headers, escaping, refusals of forms posted from elsewhere, links that do not work."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import survey_page
from bot.web import make_web_app
from handlers import surveys
from handlers.context import Context
from tests.handlers.survey_helpers import answered_and_closed, stored, survey_of

NOT_FOUND_WORDS = "This survey link has expired or does not exist"


@pytest.fixture
def web_ctx(any_database, clock):
    return Context(db=any_database, platforms=(), mail_domain="acme.com", clock=clock,
                   public_url="https://support.acme.com")


@pytest.fixture
async def client(web_ctx):
    async with TestClient(TestServer(make_web_app(web_ctx, "intake-token"))) as c:
        yield c


def form_key_of(page: str) -> str:
    return re.search(r'name="key" value="([0-9a-f]{64})"', page).group(1)


async def open_link(client, token: str, rating: str | None = "great"):
    path = f"/survey/{token}" + (f"?rating={rating}" if rating else "")
    async with client.get(path) as resp:
        return resp, await resp.text()


def assert_safe_headers(resp):
    assert resp.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"


async def test_the_link_records_the_rating_and_shows_the_page(client, web_ctx):
    token = survey_of(web_ctx, answered_and_closed(web_ctx))
    resp, page = await open_link(client, token, "great")
    assert resp.status == 200
    assert_safe_headers(resp)
    assert "Thanks, Carol! You said: Great" in page
    assert "About your request “Double charge”." in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script" not in page and "src=" not in page and "://" not in page  # nothing from elsewhere
    # the three answers, to change it, the current one marked
    assert '<a href="?rating=great&amp;again=1" aria-current="true">' in page
    assert '<a href="?rating=okay&amp;again=1">' in page and '<a href="?rating=not_good&amp;again=1">' in page
    # the first page she sees in 90 days asks NPS (0–10) and how she heard about us
    assert "How likely is it that you would recommend Acme to a friend or colleague?" in page
    assert all(f'name="nps" value="{n}"' in page for n in range(11)) and 'value="11"' not in page
    assert "0 = Not likely" in page and "10 = Very likely" in page
    assert all(f'name="referral" value="{key}"' in page for key in (*surveys.REFERRALS, surveys.OTHER))
    assert f'<form class="box" method="post" action="{token}">' in page
    assert stored(web_ctx, token).rating == "great"


async def test_the_pages_own_links_change_the_answer_at_once_the_mails_twice_in_seconds_do_not(client, web_ctx):
    token = survey_of(web_ctx, answered_and_closed(web_ctx))
    await open_link(client, token, "great")
    # the customer changes their mind on the page straight away: the page's link says it is theirs
    async with client.get(f"/survey/{token}?rating=not_good&again=1") as resp:
        page = await resp.text()
    assert "You said: Not good" in page and stored(web_ctx, token).rating == "not_good"
    # two different links of the mail within seconds: a mail scanner checking them; neither counts
    _, page = await open_link(client, token, "okay")
    assert "How did we do?" in page and "You said" not in page
    assert stored(web_ctx, token).rating is None and stored(web_ctx, token).scanned_at is not None


async def test_the_form_is_sent_and_thanked_for(client, web_ctx):
    token = survey_of(web_ctx, answered_and_closed(web_ctx))
    _, page = await open_link(client, token, "okay")
    data = {"key": form_key_of(page), "comment": "Took a while, but solved.", "nps": "7", "referral": "other",
            "referral_other": "a podcast"}
    # a browser on our own page (Referrer-Policy: no-referrer) posts with "Origin: null"
    async with client.post(f"/survey/{token}", data=data, headers={"Origin": "null"}) as resp:
        assert resp.status == 200
        assert_safe_headers(resp)
        thanks = await resp.text()
    assert "Thank you, Carol!" in thanks
    for said in ("How we did: <strong>Okay</strong>", "Took a while, but solved.",
                 "recommend Acme: <strong>7 of 10</strong>", "How you heard about us: <strong>Other: a podcast</strong>"):
        assert said in thanks
    row = stored(web_ctx, token)
    assert (row.comment, row.nps, row.referral, row.referral_other) == ("Took a while, but solved.", 7, "other",
                                                                         "a podcast")
    # posted from this server's own page (Origin of the public URL, or of the request's host): fine too
    for origin in ("https://support.acme.com", f"http://{client.server.host}:{client.server.port}"):
        async with client.post(f"/survey/{token}", data=data, headers={"Origin": origin}) as resp:
            assert resp.status == 200


async def test_a_wrong_value_is_explained_and_the_rest_shown_back(client, web_ctx):
    token = survey_of(web_ctx, answered_and_closed(web_ctx))
    _, page = await open_link(client, token, None)
    assert "Hi Carol, how did we do?" in page
    comment = "<b>bold</b> " + "x" * 2000
    async with client.post(f"/survey/{token}", data={"key": form_key_of(page), "comment": comment, "nps": "12",
                                                     "referral": "friend"}) as resp:
        assert resp.status == 400
        page = await resp.text()
    assert "Your comment is 2,012 characters long; the limit is 2,000." in page
    assert "Choose a number from 0 (not likely) to 10 (very likely)." in page
    assert f"&lt;b&gt;bold&lt;/b&gt; {'x' * 2000}</textarea>" in page  # shown back (escaped) to be shortened
    assert 'name="referral" value="friend" checked' in page
    assert stored(web_ctx, token).referral == "friend"


async def test_customer_and_ticket_words_are_escaped(client, web_ctx):
    ticket_id = answered_and_closed(web_ctx, name='<script>alert(1)</script> "Eve"',
                                    subject='<img src=x onerror=alert(2)> & co')
    token = survey_of(web_ctx, ticket_id)
    _, page = await open_link(client, token, "not_good")
    assert "<script>alert" not in page and "<img" not in page
    assert "Thanks, &lt;script&gt;alert(1)&lt;/script&gt;! You said: Not good" in page
    assert "“&lt;img src=x onerror=alert(2)&gt; &amp; co”" in page
    data = {"key": form_key_of(page), "comment": '"><script>alert(3)</script>', "referral_other": '"><b>x'}
    async with client.post(f"/survey/{token}", data=data) as resp:
        thanks = await resp.text()
    assert "<script>alert" not in thanks and "&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in thanks


async def test_forged_malformed_and_expired_links_get_the_friendly_404(client, web_ctx, clock):
    token = survey_of(web_ctx, answered_and_closed(web_ctx))
    for path in (f"/survey/{surveys.new_token()}?rating=great", "/survey/short", "/survey/" + "a" * 300,
                 "/survey/%3Cscript%3E", "/survey/x..y!z-0000000000000000"):
        async with client.get(path) as resp:
            assert resp.status == 404, path
            assert_safe_headers(resp)
            assert NOT_FOUND_WORDS in await resp.text()
    _, page = await open_link(client, token)
    key = form_key_of(page)
    clock.advance(surveys.TOKEN_DAYS * 24 * 3600 + 1)
    resp, text = await open_link(client, token, "not_good")
    assert resp.status == 404 and NOT_FOUND_WORDS in text and "Traceback" not in text
    async with client.post(f"/survey/{token}", data={"key": key, "comment": "late"}) as resp:
        assert resp.status == 404 and NOT_FOUND_WORDS in await resp.text()
    assert stored(web_ctx, token).rating == "great"


async def test_forms_posted_from_elsewhere_are_refused(client, web_ctx):
    token = survey_of(web_ctx, answered_and_closed(web_ctx))
    _, page = await open_link(client, token)
    key = form_key_of(page)
    cases = [
        ({"comment": "no key"}, {}),
        ({"key": "0" * 64, "comment": "a made-up key"}, {}),
        ({"key": survey_page.form_key(b"another secret" * 3, token), "comment": "another server's key"}, {}),
        ({"key": key, "comment": "from another site"}, {"Origin": "https://evil.example"}),
        ({"key": key, "comment": "from another site, no Origin"}, {"Referer": "https://evil.example/page"}),
        ({"key": key, "comment": "a look-alike host"}, {"Origin": "https://support.acme.com.evil.example"}),
    ]
    for data, headers in cases:
        async with client.post(f"/survey/{token}", data=data, headers=headers) as resp:
            assert resp.status == 403, data["comment"]
            assert_safe_headers(resp)
            assert "Your answers could not be sent from here" in await resp.text()
    assert stored(web_ctx, token).comment is None
    # another survey's key does not open this one
    other = survey_of(web_ctx, answered_and_closed(web_ctx))
    _, other_page = await open_link(client, other)
    async with client.post(f"/survey/{token}", data={"key": form_key_of(other_page), "comment": "x"}) as resp:
        assert resp.status == 403


async def test_a_huge_form_is_refused_kindly_and_head_records_nothing(client, web_ctx):
    token = survey_of(web_ctx, answered_and_closed(web_ctx))
    _, page = await open_link(client, token, None)
    data = {"key": form_key_of(page), "comment": "x" * (survey_page.MAX_FORM_BYTES + 1)}
    async with client.post(f"/survey/{token}", data=data) as resp:
        assert resp.status == 413
        assert "Your answers are too long" in await resp.text()
    async with client.post(f"/survey/{token}", data="&".join(f"f{i}=1" for i in range(50)),
                           headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
        assert resp.status == 400 and "not understood" in await resp.text()
    # a link checker's HEAD must not answer the survey
    async with client.head(f"/survey/{token}?rating=not_good") as resp:
        assert resp.status == 405
    assert stored(web_ctx, token).rating is None
