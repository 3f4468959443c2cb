"""`pitchin stats` in a terminal: the real command in a subprocess, on a SQLite file holding a few
tickets and survey answers around now (the command reads the real clock)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from storage.db import Database
from tests.handlers.stats_helpers import person, survey, ticket

ROOT = Path(__file__).resolve().parents[1]


def pitchin(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    return subprocess.run([sys.executable, "-m", "bot", "stats", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def seed(tmp_path) -> datetime:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    with db.transaction() as s:
        ann, eve = person(s, "Ann"), person(s, "@eve")
        answered = ticket(s, now - timedelta(days=3), now - timedelta(days=2),
                          [(ann, now - timedelta(days=3) + timedelta(minutes=80)),
                           (eve, now - timedelta(days=3) + timedelta(hours=2))])
        survey(s, answered, "great", now - timedelta(days=1), 10, now - timedelta(days=1), "other", "A podcast")
        ticket(s, now - timedelta(days=1))  # still waiting
        ticket(s, now - timedelta(days=40), now - timedelta(days=39), [(ann, now - timedelta(days=40, minutes=-5))])
    db.dispose()
    return now


def test_stats_prints_the_last_30_days(tmp_path):
    seed(tmp_path)
    done = pitchin(tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("📊 Support stats, last 30 days (")
    assert lines[1:] == [
        "Satisfaction: 100% Great (1 Great, 0 Okay, 0 Not good)",
        "NPS: +100 (1 promoter, 0 passives, 0 detractors)",
        "First response: median 1 h 20 min, p90 1 h 20 min (1 ticket answered; 1 still waiting)",
        "Time to close: median 1 d, p90 1 d (1 ticket)",
        "Tickets: 2 in, 1 closed",
        "Whole company: 2 people answered customers. Most replies: @eve (1), Ann (1)",
        "How customers heard of us: Other (1)",
    ]
    assert not list(tmp_path.glob("*.png"))  # no chart unless asked for


def test_csv_rows_and_the_chart_file(tmp_path):
    now = seed(tmp_path)
    done = pitchin(tmp_path, "90d", "--csv", "--chart", "chart.png")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == ["ticket", "created_at", "first_response_at", "minutes_to_first_response", "closed_at",
                             "hours_to_close", "answered_by", "rating", "nps", "referral"]
    stamp = lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    assert [r["ticket"] for r in rows] == ["3", "1", "2"]  # by arrival
    old, answered, waiting = rows
    assert old["minutes_to_first_response"] == "5" and old["hours_to_close"] == "24.0"
    assert answered == {
        "ticket": "1", "created_at": stamp(now - timedelta(days=3)),
        "first_response_at": stamp(now - timedelta(days=3) + timedelta(minutes=80)), "minutes_to_first_response": "80",
        "closed_at": stamp(now - timedelta(days=2)), "hours_to_close": "24.0",
        "answered_by": "Ann; @eve", "rating": "Great", "nps": "10", "referral": "Other: A podcast"}
    assert (waiting["first_response_at"], waiting["closed_at"], waiting["answered_by"], waiting["rating"]) == \
        ("", "", "", "")
    assert done.stderr.strip() == f"Chart written to {tmp_path / 'chart.png'}"
    png = (tmp_path / "chart.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_a_name_a_spreadsheet_would_run_stays_text(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    now = datetime.now(timezone.utc)
    with db.transaction() as s:
        ticket(s, now - timedelta(hours=3), None, [(person(s, "=HYPERLINK(\"https://evil.example\")"), now)])
    db.dispose()
    done = pitchin(tmp_path, "7d", "--csv")
    (row,) = list(csv.DictReader(io.StringIO(done.stdout)))
    assert row["answered_by"] == "'=HYPERLINK(\"https://evil.example\")"


def test_a_wrong_window_gets_the_usage_line(tmp_path):
    done = pitchin(tmp_path, "14d")
    assert done.returncode == 2
    assert done.stderr == ("pitchin stats: “14d” is not a window Pitchin knows: say 7d, 30d or 90d.\n"
                           "Usage: pitchin stats [7d|30d|90d] [--csv] [--chart FILE]\n")
