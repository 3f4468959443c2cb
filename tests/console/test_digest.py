"""The daily digest in the console: `digest #all-company …` typed at the prompt, a customer answered
with `reply`, and the next day's digest printed as the console's post in #all-company."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers import digest_jobs
from handlers.context import Context
from storage.db import Database
from tests.conftest import FakeClock
from tests.console.test_console import term  # noqa: F401  (the fixture)
from tests.handlers.rotation_helpers import set_clock

BERLIN = ZoneInfo("Europe/Berlin")


async def test_set_in_the_console_the_next_days_digest_is_printed(term, tmp_path):  # noqa: F811
    out = await term.type("digest #all-company tz Europe/Berlin", "The first comes")
    assert ("Every day at 16:00 Europe/Berlin, five random customer conversations answered the day before go to "
            "#all-company: ") in out
    out = await term.type("digest", "Usage: digest")
    assert "The daily digest goes to #all-company at 16:00 Europe/Berlin every day, set by ann." in out
    out = await term.type("digest #all-company at teatime", "Usage: digest")
    assert "“teatime” is not a time of day: write it as 16:00." in out

    status, _ = await term.post_message({"email": "carol@example.com", "name": "Carol Jones", "subject": "Refund",
                                         "text": "Where is my refund? I am carol@example.com."})
    assert status == 202
    await term.type("reply 1 Hello Carol Jones, it went out today.", "before then to take it back.")
    await term.wait_for("  #1 │ ✅ delivered")

    # tomorrow at 16:00 in Berlin, a round of the digest (the console's delivery worker prints it)
    db = Database(f"sqlite:///{tmp_path / 'pitchin.db'}")
    clock = FakeClock()
    today = datetime.now(BERLIN).date()
    set_clock(clock, datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=BERLIN).replace(hour=16))
    mark = len(term.text)
    assert digest_jobs.tick(Context(db=db, platforms=("console",), clock=clock)) == 1
    db.dispose()
    posted = (await term.wait_for("first name; addresses", since=mark))
    assert "📣 #all-company: " in posted
    assert "Carol asked (#1 · Refund):" in posted and "“Where is my refund? I am [address removed].”" in posted
    assert "ann answered:" in posted and "“Hello Carol, it went out today.”" in posted
    assert "carol@example.com" not in posted and "Jones" not in posted

    out = await term.type("digest off", "The daily digest is off")
    assert "nothing more goes to #all-company." in out
