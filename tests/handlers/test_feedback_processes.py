"""Several processes share one suggestion tracker: each one's index of similar cards sees what the
others wrote, whatever the order their transactions commit in.

Process 1 is this test's; process 2 is a real second OS process (``tests/handlers/feedback_process.py``)
with its own engine, connections and in-memory index, as a second `pitchin serve` or `pitchin worker` has.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, event, select, text

from handlers import feedback
from handlers.base import Actor
from handlers.context import Context
from handlers.feedback import Draft
from storage import repos
from storage.db import Database
from storage.models import SuggestionCard, SuggestionRequest, SuggestionVector
from tests.handlers.feedback_process import offered_cards

ROOT = Path(__file__).resolve().parents[2]
ANN = Actor("test", "U-ANN", "Ann")
IDEAS = ["Export invoices to CSV", "Dark mode for the dashboard", "Single sign-on with Okta",
         "A mobile app for Android", "Webhooks when a ticket closes", "Two-factor login with SMS codes"]


class OtherProcess:
    """Process 2, driven over its stdin; ``application_name`` tells its PostgreSQL sessions apart."""

    def __init__(self, url: str):
        self.name = f"pitchin-other-{uuid.uuid4().hex[:8]}"
        if url.startswith("postgresql"):
            url += ("&" if "?" in url else "?") + f"application_name={self.name}"
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.handlers.feedback_process", url], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.answers: dict[int, dict] = {}
        self.arrived = threading.Condition()
        self.sent = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            answer = json.loads(line)
            with self.arrived:
                self.answers[answer["id"]] = answer
                self.arrived.notify_all()
        self.proc.wait()
        with self.arrived:  # ended: nobody waits for an answer that cannot come
            self.arrived.notify_all()

    def send(self, verb: str, text: str, user: str = "U-ANN") -> int:
        self.sent += 1
        self.proc.stdin.write(json.dumps({"id": self.sent, "verb": verb, "user": user, "text": text}) + "\n")
        self.proc.stdin.flush()
        return self.sent

    def answered(self, request: int) -> bool:
        with self.arrived:
            return request in self.answers

    def answer(self, request: int) -> dict:
        with self.arrived:
            assert self.arrived.wait_for(lambda: request in self.answers or self.proc.poll() is not None, 120)
            assert request in self.answers, f"process 2 ended with {self.proc.returncode}"
            return self.answers[request]

    def offered(self, idea: str) -> list[int]:
        """The cards `/feedback <idea>` offers as "heard before" in process 2 (none: it filed a new card)."""
        return self.answer(self.send("log", idea))["offered"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(60)


@pytest.fixture
def processes(request):
    """Process 1 (a Context here) and process 2 (an OS process) on one database, SQLite or PostgreSQL."""
    url = request.getfixturevalue(request.param)
    db = Database(url)
    db.upgrade()
    other = OtherProcess(url)
    yield Context(db=db), other
    other.close()
    db.dispose()


def offered(ctx: Context, idea: str) -> list[int]:
    """The cards `/feedback <idea>` offers as "heard before" (none: it filed a new card)."""
    return offered_cards(feedback.log(ctx, ANN, Draft(idea)))


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


def waiting_on_a_lock(db: Database, application_name: str) -> bool:
    with db.engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                                      "AND wait_event_type = 'Lock'"), {"name": application_name}).scalar())


@pytest.mark.parametrize("processes", ["pg_url"], indirect=True)
def test_a_request_that_commits_late_is_offered_to_the_other_process(processes):
    """Process 1's request gets the lower id but commits after process 2's: process 2 has looked up
    in between, and still offers process 1's card once it is committed."""
    one, two = processes
    two.answer(two.send("search", "warm up"))  # process 2 is up, its model loaded
    late = LateCommit(one.db)
    results: dict[str, object] = {}
    first = threading.Thread(target=lambda: results.update(one=feedback.log(one, ANN, Draft(IDEAS[1]))))
    first.start()
    try:
        assert late.waiting.wait(60)  # the request is inserted (a lower id), not committed yet
        # Bob, not Ann: no uncommitted row of Ann's for his transaction to wait on
        second = two.send("log", IDEAS[2], user="U-BOB")
        deadline = time.monotonic() + 60
        # process 2's request commits, or waits for process 1's transaction to end first
        while not two.answered(second) and not waiting_on_a_lock(one.db, two.name):
            assert time.monotonic() < deadline, "process 2's feedback neither committed nor waited"
            time.sleep(0.02)
        assert two.answer(two.send("search", "dark mode for the dashboard"))["text"].startswith("Nothing like")
    finally:
        late.release.set()
        first.join(60)
    assert results["one"].text.startswith("New card #1 · Dark mode for the dashboard")
    assert two.answer(second)["text"].startswith("New card #2 · Single sign-on with Okta")
    assert two.offered("Dark mode on the dashboard please")[:1] == [1]
    assert two.offered("Sign-on with Okta (SSO)")[:1] == [2]


@pytest.mark.parametrize("processes", ["sqlite_url", "pg_url"], indirect=True)
def test_merges_and_undone_merges_are_seen_by_the_other_process(processes):
    one, two = processes
    for number, idea in enumerate(IDEAS, start=1):
        assert feedback.log(one, ANN, Draft(idea)).text.startswith(f"New card #{number}")
    assert two.offered(IDEAS[2])[:1] == [3]

    merged = feedback.merge(one, ANN, 3, 1)
    assert merged.ok, merged.text
    assert two.offered(IDEAS[2])[:1] == [1]  # card 3's request now counts for card 1

    # undo 3→1, then merge 2→6: the same number of merged cards, and the same Σ id² + target
    (undo,) = [b for b in merged.actions if b.action_id == "feedback.unmerge"]
    assert feedback.unmerge(one, ANN, undo.value).text.startswith("Undone: #3")
    assert feedback.merge(one, ANN, 2, 6).ok
    assert two.offered(IDEAS[2])[:1] == [3]  # its own card again
    dark = two.offered(IDEAS[1])
    assert dark[:1] == [6] and 2 not in dark

    assert feedback.merge(one, ANN, 4, 5).ok  # and a later merge after that
    android = two.offered(IDEAS[3])
    assert android[:1] == [5] and 4 not in android


def test_a_lookup_when_nothing_changed_reads_one_small_row(any_database):
    one, two = Context(db=any_database), Context(db=Database(any_database.url))
    for idea in IDEAS:
        feedback.log(one, ANN, Draft(idea))
    assert offered(two, IDEAS[0])[:1] == [1]  # the index is built (and a draft stored: no suggestion data)
    statements: list[str] = []
    event.listen(two.db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with two.db.transaction(read_only=True) as s:
        assert two.suggestions.similar(s, IDEAS[4])[0][0] == 5
    two.db.dispose()
    (query,) = [q for q in statements if q != "BEGIN"]
    assert "FROM suggestion_version" in query  # the version, and nothing else


def test_a_removed_card_is_no_longer_offered_by_the_other_process(any_database):
    """No command removes a card today; a cleanup that does (and says so) reaches every index."""
    one, two = Context(db=any_database), Context(db=Database(any_database.url))
    for idea in IDEAS:
        feedback.log(one, ANN, Draft(idea))
    assert offered(two, IDEAS[3])[:1] == [4]
    with any_database.transaction() as s:
        ids = [r.id for r in s.execute(select(SuggestionRequest).where(SuggestionRequest.card_id == 4)).scalars()]
        s.execute(delete(SuggestionVector).where(SuggestionVector.request_id.in_(ids)))
        s.execute(delete(SuggestionRequest).where(SuggestionRequest.id.in_(ids)))
        s.execute(delete(SuggestionCard).where(SuggestionCard.id == 4))
        repos.suggestions_changed(s, [4])
    with two.db.transaction(read_only=True) as s:  # (the offer itself checks the card still exists)
        assert 4 not in [card for card, _ in two.suggestions.similar(s, IDEAS[3])]
    two.db.dispose()
