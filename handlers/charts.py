"""Chart images kept for platforms that show a picture only by its address (a Teams card's Image):
stored under an unguessable token, served at ``/charts/<token>.png`` (bot/charts_web.py), kept
``KEEP_DAYS``. The token is the only key: whoever holds the card's link sees that one chart, as
whoever holds a shared file's link does."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import delete

from handlers.context import Context
from storage.models import ChartImage

KEEP_DAYS = 30  # a card older than this shows a broken image: the figures in its text remain
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32): 256 bits


def chart_path(token: str) -> str:
    return f"/charts/{token}.png"


def keep_chart(ctx: Context, png: bytes) -> str:
    """Store ``png`` and return its token; charts older than KEEP_DAYS go in the same transaction."""
    token = secrets.token_urlsafe(32)
    now = ctx.now()
    with ctx.db.transaction() as session:
        session.execute(delete(ChartImage).where(ChartImage.created_at < now - timedelta(days=KEEP_DAYS)))
        session.add(ChartImage(token=token, png=png, created_at=now))
    return token


def chart_png(ctx: Context, token: str) -> bytes | None:
    """The chart stored under ``token`` while it is kept, else None."""
    if not TOKEN_SHAPE.match(token):
        return None
    with ctx.db.transaction(read_only=True) as session:
        chart = session.get(ChartImage, token)
        if chart is None or chart.created_at < ctx.now() - timedelta(days=KEEP_DAYS):
            return None
        return bytes(chart.png)
