"""Chart images kept for Teams cards: an unguessable token, read back while kept, gone after KEEP_DAYS."""

from __future__ import annotations

from sqlalchemy import select

from handlers import charts
from storage.models import ChartImage


def test_a_chart_is_read_back_by_its_token_while_it_is_kept(ctx, clock):
    token = charts.keep_chart(ctx, b"\x89PNG one")
    other = charts.keep_chart(ctx, b"\x89PNG two")
    assert len(token) == 43 and token != other
    assert charts.chart_path(token) == f"/charts/{token}.png"
    assert charts.chart_png(ctx, token) == b"\x89PNG one"
    assert charts.chart_png(ctx, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert charts.chart_png(ctx, "../../etc/passwd") is None

    clock.advance(charts.KEEP_DAYS * 86400 + 60)
    assert charts.chart_png(ctx, token) is None  # too old to show, even before it is deleted
    newest = charts.keep_chart(ctx, b"\x89PNG three")
    with ctx.db.transaction(read_only=True) as session:
        assert session.execute(select(ChartImage.token)).scalars().all() == [newest]
