"""Rotations in the console: people named by name or email, a channel as #name, the Take it
button as a command to type, and bad input that gets the usage line."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from handlers.rotations import shifts_between
from storage import repos
from storage.models import Identity
from storage.db import Database
from storage.types import Actor
from tests.console.test_console import term  # noqa: F401  (the fixture)


def colleagues(tmp_path) -> None:
    """Bob and Cem, known to Pitchin from Slack (the console names them by name and email)."""
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    with db.transaction() as s:
        repos.person_for(s, Actor("slack", "UBOB", "Bob", "bob@acme.test", "T1"))
        repos.person_for(s, Actor("slack", "UCEM", "Cem", "cem@acme.test", "T1"))
    db.dispose()


def next_shift_of(tmp_path, user: str):
    """The day of ``user``'s next shift that has not begun."""
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    now = datetime.now(timezone.utc)
    with db.transaction() as s:
        pid = s.execute(select(Identity.person_id).where(Identity.user_id == user)).scalar_one()
        day = next(sh.day for sh in shifts_between(s, now, now + timedelta(days=14)) if sh.person_ids[0] == pid
                   and sh.start > now)
    db.dispose()
    return day


async def test_create_by_name_and_email_show_and_cover_in_the_terminal(term, tmp_path):  # noqa: F811
    colleagues(tmp_path)
    out = await term.type("rotation create support ann Bob cem@acme.test channel #support", "next: ")
    assert "Rotation support created: ann, Bob, Cem, Mon–Fri 09:00–17:00 UTC (no time zone given" in out
    out = await term.type("who", "Order from the next shift:")
    assert "support: Mon–Fri 09:00–17:00 UTC, posts in #support. Times below in UTC." in out
    day = next_shift_of(tmp_path, "ann")
    out = await term.type(f"rotation cover {day.isoformat()}", "take ")
    assert f"📣 #support: ann needs cover for {day:%a} {day.day} {day:%b}" in out
    number = re.search(r"take (\d+)", out).group(1)
    out = await term.type(f"take {number}", "own shift")
    assert "That is your own shift: someone else has to take it." in out


async def test_bad_input_in_the_console_gets_the_usage_line(term, tmp_path):  # noqa: F811
    colleagues(tmp_path)
    out = await term.type("rotation create support Bob nobody", "Usage: rotation create")
    assert "Pitchin does not know “nobody”" in out
    out = await term.type("rotation creat support Bob", "Usage: rotation create|show")
    assert "Pitchin does not know “rotation creat”" in out
    out = await term.type("rotation", "There is no rotation yet")
