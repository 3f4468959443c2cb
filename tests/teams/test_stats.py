"""`@Pitchin stats 30d` through the real botbuilder adapter: the figures in an Adaptive Card with the
chart as an Image whose address is this server's /charts/<token>.png, which serves the same PNG."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from handlers import charts
from storage.models import ChartImage
from tests.fakes.teams_connector import card_text
from tests.handlers.stats_helpers import person, survey, ticket
from tests.png_facts import size
from tests.teams.stack import ANN


def images(card: dict) -> list[dict]:
    return [node for node in card["body"] if node.get("type") == "Image"]


async def ask(s, text: str):
    activity = s.acts.message(ANN, text, mention=True)
    status, body = await s.send(activity)
    assert status in (200, 201), body
    (answer,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == activity["id"], timeout=30)
    return answer


async def test_the_card_shows_the_chart_that_the_server_serves(any_teams_stack):
    s = any_teams_stack
    s.pitchin.ctx.public_url = s.base  # PITCHIN_PUBLIC_URL: this server, as Teams would reach it
    now = datetime.now(timezone.utc)
    with s.pitchin.db.transaction() as session:
        t = ticket(session, now - timedelta(days=3), now - timedelta(days=2),
                   [(person(session, "Ann"), now - timedelta(days=3) + timedelta(hours=2))])
        survey(session, t, "great", now - timedelta(days=1), 9, now - timedelta(days=1), "friend")
        session.add(ChartImage(token="old" * 14 + "x", png=b"\x89PNG old", created_at=now - timedelta(days=31)))

    answer = await ask(s, "stats 30d")
    text = card_text(answer.card)
    assert "📊 Support stats, last 30 days (" in text
    assert "Satisfaction: 100% Great (1 Great, 0 Okay, 0 Not good)" in text
    assert "How customers heard of us: A friend or colleague (1)" in text
    (image,) = images(answer.card)
    assert re.fullmatch(re.escape(s.base) + r"/charts/[A-Za-z0-9_-]{43}\.png", image["url"])
    assert image["altText"].startswith("📊 Support stats, last 30 days")

    async with s.http.get(image["url"]) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Cache-Control"].startswith("private")
        served = await resp.read()
    token = image["url"].rsplit("/", 1)[1][:-4]
    with s.pitchin.db.transaction() as session:
        kept = session.execute(select(ChartImage.token, ChartImage.png)).all()
    assert [(t, bytes(png)) for t, png in kept] == [(token, served)]  # the 31-day-old chart went
    assert size(served) == (1000, 500)

    for wrong in (charts.chart_path("old" * 14 + "x"), charts.chart_path("x" * 43), "/charts/../healthz.png",
                  charts.chart_path(token[:-1])):
        async with s.http.get(s.base + wrong) as resp:
            assert resp.status == 404, wrong


async def test_without_a_public_url_the_card_says_what_the_chart_needs(teams_stack):
    answer = await ask(teams_stack, "stats 7d")
    text = card_text(answer.card)
    assert "📊 Support stats, last 7 days (" in text
    assert "The week-by-week chart needs PITCHIN_PUBLIC_URL" in text
    assert images(answer.card) == []
    with teams_stack.pitchin.db.transaction() as session:
        assert session.execute(select(ChartImage)).first() is None
