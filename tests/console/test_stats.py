"""`stats` in `pitchin console`: the figures printed, the chart written as a PNG file in the working
directory (never over another file) and its path printed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage.db import Database
from tests.console.test_console import close_console, open_console
from tests.handlers.stats_helpers import person, survey, ticket
from tests.png_facts import colours, size


@pytest.fixture
async def term(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the chart is written
    t = await open_console(tmp_path)
    yield t
    await close_console(t)


def seed(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    now = datetime.now(timezone.utc)
    with db.transaction() as s:
        t = ticket(s, now - timedelta(days=2), None, [(person(s, "Ann"), now - timedelta(days=2, minutes=-90))])
        survey(s, t, "okay", now - timedelta(days=1), 7, now - timedelta(days=1))
    db.dispose()


async def test_stats_prints_the_figures_and_where_the_chart_is(term, tmp_path):
    seed(tmp_path)
    out = await term.type("stats 7d", "The week-by-week chart is in")
    assert "📊 Support stats, last 7 days (" in out
    assert "Satisfaction: 0% Great (0 Great, 1 Okay, 0 Not good)" in out
    assert "NPS: 0 (0 promoters, 1 passive, 0 detractors)" in out
    assert "First response: median 1 h 30 min, p90 1 h 30 min (1 ticket answered)" in out
    written = Path(re.search(r"The week-by-week chart is in (\S+\.png)", term.text).group(1))
    assert written.parent == tmp_path.resolve() and re.fullmatch(r"pitchin-stats-\d{4}-\d\d-\d\d\.png", written.name)
    png = written.read_bytes()
    assert size(png) == (1000, 500) and colours(png) > 200

    await term.type("stats", "The week-by-week chart is in")
    again = re.findall(r"The week-by-week chart is in (\S+\.png)", term.text)
    assert len(again) == 2 and again[1] == str(written.with_name(written.stem + "-2.png"))
    assert written.read_bytes() == png  # the first file stays as it was


async def test_a_wrong_window_gets_the_usage_line(term, tmp_path):
    out = await term.type("stats 1y", "Usage: stats [7d|30d|90d]")
    assert "“1y” is not a window Pitchin knows: say 7d, 30d or 90d." in out
    assert not list(tmp_path.glob("*.png"))
