"""Several processes share one suggestion tracker: each one's index of similar cards sees what the
others wrote, whatever the order their transactions commit in.

A "process" here is a Context on a Database of its own (its own engine, pool and connections, its
own in-memory index), exactly what a second `pitchin serve` or `pitchin worker` holds.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, text

from handlers import feedback
from handlers.base import Actor
from handlers.context import Context
from handlers.feedback import Draft
from storage.db import Database

ANN = Actor("test", "U-ANN", "Ann")
BOB = Actor("test", "U-BOB", "Bob")  # another person: no row of Ann's for his transaction to wait on
IDEAS = ["Export invoices to CSV", "Dark mode for the dashboard", "Single sign-on with Okta",
         "A mobile app for Android", "Webhooks when a ticket closes", "Two-factor login with SMS codes"]


@pytest.fixture
def processes(request):
    """Two processes on one database (SQLite or PostgreSQL, as the test asks)."""
    url = request.getfixturevalue(request.param)
    first, second = Database(url), Database(url)
    first.upgrade()
    yield Context(db=first), Context(db=second)
    first.dispose()
    second.dispose()


def offered(ctx: Context, idea: str) -> list[int]:
    """The cards `/feedback <idea>` offers as "heard before" (none: it filed a new card)."""
    reply = feedback.log(ctx, ANN, Draft(idea))
    return [int(b.value.split(":")[1]) for b in reply.actions if b.action_id == "feedback.add"]


class LateCommit:
    """Holds the next writing transaction of ``db`` open just before it commits, until released."""

    def __init__(self, db: Database):
        self.db, self.waiting, self.release = db, threading.Event(), threading.Event()
        self.armed = True
        event.listen(db.engine, "commit", self._hold)

    def _hold(self, connection):
        if self.armed and not connection.get_execution_options().get("pitchin_read_only"):
            self.armed = False
            self.waiting.set()
            assert self.release.wait(60), "the test never let the transaction commit"


def waiting_on_a_lock(db: Database, pids: set[int]) -> bool:
    with db.engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids) "
                                      "AND wait_event_type = 'Lock'"), {"pids": list(pids)}).scalar())


@pytest.mark.parametrize("processes", ["pg_url"], indirect=True)
def test_a_request_that_commits_late_is_offered_to_the_other_process(processes):
    """Process 1's request gets the lower id but commits after process 2's: process 2 has looked up
    in between, and still offers process 1's card once it is committed."""
    one, two = processes
    pids: set[int] = set()
    event.listen(two.db.engine, "connect",
                 lambda dbapi, _: pids.add(dbapi.cursor().execute("SELECT pg_backend_pid()").fetchone()[0]))
    late = LateCommit(one.db)
    results: dict[str, object] = {}
    first = threading.Thread(target=lambda: results.update(one=feedback.log(one, ANN, Draft(IDEAS[1]))))
    first.start()
    try:
        assert late.waiting.wait(60)  # the request is inserted (a lower id), not committed yet
        second = threading.Thread(target=lambda: results.update(two=feedback.log(two, BOB, Draft(IDEAS[2]))))
        second.start()
        deadline = time.monotonic() + 60
        # process 2's request commits, or waits for process 1's transaction to end first
        while second.is_alive() and not waiting_on_a_lock(two.db, pids):
            assert time.monotonic() < deadline, "process 2's feedback neither committed nor waited"
            time.sleep(0.02)
        assert "Nothing like" in feedback.search(two, "dark mode for the dashboard").text  # not committed yet
    finally:
        late.release.set()
        first.join(60)
    second.join(60)
    assert results["one"].text.startswith("New card #1 · Dark mode for the dashboard")
    assert results["two"].text.startswith("New card #2 · Single sign-on with Okta")
    assert offered(two, "Dark mode on the dashboard please")[:1] == [1]
    assert offered(two, "Sign-on with Okta (SSO)")[:1] == [2]


@pytest.mark.parametrize("processes", ["sqlite_url", "pg_url"], indirect=True)
def test_merges_and_undone_merges_are_seen_by_the_other_process(processes):
    one, two = processes
    for number, idea in enumerate(IDEAS, start=1):
        assert feedback.log(one, ANN, Draft(idea)).text.startswith(f"New card #{number}")
    assert offered(two, IDEAS[2])[:1] == [3]

    merged = feedback.merge(one, ANN, 3, 1)
    assert merged.ok, merged.text
    assert offered(two, IDEAS[2])[:1] == [1]  # card 3's request now counts for card 1

    # undo 3→1, then merge 2→6: the same number of merged cards, and the same Σ id² + target
    (undo,) = [b for b in merged.actions if b.action_id == "feedback.unmerge"]
    assert feedback.unmerge(one, ANN, undo.value).text.startswith("Undone: #3")
    assert feedback.merge(one, ANN, 2, 6).ok
    assert offered(two, IDEAS[2])[:1] == [3]  # its own card again
    dark = offered(two, IDEAS[1])
    assert dark[:1] == [6] and 2 not in dark

    assert feedback.merge(one, ANN, 4, 5).ok  # and a later merge after that
    android = offered(two, IDEAS[3])
    assert android[:1] == [5] and 4 not in android


@pytest.mark.parametrize("processes", ["sqlite_url", "pg_url"], indirect=True)
def test_a_lookup_when_nothing_changed_reads_one_small_row(processes):
    one, two = processes
    for idea in IDEAS:
        feedback.log(one, ANN, Draft(idea))
    assert offered(two, IDEAS[0])[:1] == [1]  # the index is built (and a draft stored: no suggestion data)
    statements: list[str] = []
    event.listen(two.db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with two.db.transaction(read_only=True) as s:
        assert two.suggestions.similar(s, IDEAS[4])[0][0] == 5
    (query,) = [q for q in statements if q != "BEGIN"]
    assert "FROM suggestion_version" in query  # the version, and nothing else
