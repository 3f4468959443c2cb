"""`pitchin brief` prints a week's briefing in a terminal: the real command in a subprocess, on a
SQLite file holding a hand-made two weeks (vectors stored as intake stores them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from storage.db import Database
from storage.models import Department
from tests.fakes.openai_api import FakeOpenAI
from tests.handlers.briefing_helpers import REFUNDS
from tests.handlers.test_briefings import two_weeks

ROOT = Path(__file__).resolve().parents[1]


def pitchin(tmp_path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
           **extra}
    return subprocess.run([sys.executable, "-m", "bot", "brief", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_brief_prints_a_weeks_top_issues_with_last_weeks_figures(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    two_weeks(db, platform="slack")
    with db.transaction() as s:
        s.add(Department(name="Billing", platform="slack", channel_id="CBILL", tz="Europe/Berlin"))
    db.dispose()

    done = pitchin(tmp_path, "--since", "2027-01-04")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "📣 What customers said, for the company · Mon 4 Jan – Sun 10 Jan"
    assert lines[2] == "23 customers raised something this week (new tickets and feedback); the top 3 issues:"
    assert [line.split(" · ", 1)[1] for line in lines if line[:2] in ("1.", "2.", "3.")] == [
        "6 customers (↑ from 4)", "3 customers (↓ from 9)", "2 customers (new this week)"]
    assert "https://slack.com/archives/CSUPPORT/p1700000" in done.stdout and "@example.com" not in done.stdout
    assert lines[-2:] == ["Satisfaction last week: no ratings yet", "NPS last week: no NPS answers yet"]

    done = pitchin(tmp_path, "--department", "Billing", "--since", "2027-01-04")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("📣 What customers said, for Billing · Mon 4 Jan – Sun 10 Jan")

    done = pitchin(tmp_path, "--department", "Nope")
    assert done.returncode == 2
    assert done.stderr == ("pitchin brief: There is no department “Nope”. Known: Billing.\n"
                           "Usage: pitchin brief [--department NAME] [--since YYYY-MM-DD]\n")
    done = pitchin(tmp_path, "--since", "last week")
    assert done.returncode == 2 and "“last week” is not a date: write it as 2026-11-23" in done.stderr


def test_with_an_openai_key_labels_are_the_models_marked_and_invented_quotes_dropped(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    two_weeks(db)
    db.dispose()
    fake = FakeOpenAI().start()
    try:  # the first issue's answer (the refunds): one quote a customer wrote, one nobody did
        fake.answer({"label": "Refunds are late", "summary": "Customers wait for refunds. Some for weeks.",
                     "quotes": ["My refund is two weeks late", "I will never shop here again"]})
        done = pitchin(tmp_path, "--since", "2027-01-04", OPENAI_API_KEY=fake.api_key, OPENAI_BASE_URL=fake.url)
        requests = fake.chat_requests()
    finally:
        fake.stop()
    assert done.returncode == 0, done.stderr
    assert len(requests) == 3  # one per issue shown
    assert "1. Refunds are late · 6 customers (↑ from 4) · AI-written" in done.stdout
    assert "   Customers wait for refunds. Some for weeks." in done.stdout
    assert done.stdout.count("· AI-written") == 3
    assert "“My refund is two weeks late” — Refund" in done.stdout and "My refund is two weeks late" in REFUNDS[6]
    assert "never shop here" not in done.stdout
