"""A console and a server on one database (SQLite file, PostgreSQL): the console warns at start, each takes only its own
chat jobs (no attempts counted by the other), and a customer reply goes out exactly once.

The server is a whole Pitchin (HTTP, Slack against the fake Web API, the delivery worker, the
scheduler holding its lease), with its own engine on the same database, as a second process would be (tests/console/
test_leaving_processes.py runs a real `pitchin worker` process next to the console)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers import outbound
from storage.db import Database
from storage.models import OutboxJob
from tests.console.test_console import CAROL, close_console, open_console, until
from tests.stack import start_stack, stop_stack

pytestmark = pytest.mark.timeout(120)


def all_jobs(url: str) -> list[OutboxJob]:
    db = Database(url)
    try:
        with db.transaction(read_only=True) as session:
            return [j for (j,) in session.execute(select(OutboxJob).order_by(OutboxJob.id)).all()]
    finally:
        db.dispose()


def queue(url: str, fn, *args) -> int:
    db = Database(url)
    try:
        with db.transaction() as session:
            return fn(None, session, *args).id
    finally:
        db.dispose()


def platform(j: OutboxJob) -> str | None:
    return j.payload.get("platform")


async def test_a_console_and_a_server_on_one_database_keep_to_their_own_jobs(tmp_path, any_db_url):
    url = any_db_url
    server = await start_stack(url, scheduler=True, maildir=str(tmp_path / "server-mail"))
    term = None
    try:
        await until(lambda: server.pitchin.scheduler.lease.held(), "the server's scheduler lease")
        term = await open_console(tmp_path, database_url=url, smtp_url=server.smtp.url, undo_seconds=0.3)
        assert "A Pitchin server is using this database too" in term.text
        assert "its tickets do not show here" in term.text

        # one ticket through each: the console draws its own, the server posts its own on Slack
        await term.post_message(CAROL)
        await term.wait_for("└─ claim 1")
        status, _ = await server.post_message({**CAROL, "email": "dave@example.com", "subject": "Invoice"})
        assert status == 202
        await server.slack.wait_for("chat.postMessage")
        assert "Invoice" not in term.text

        await term.type("reply 1 We refunded the second charge.", "take it back")
        (mail,) = await server.smtp.wait_for(1)
        assert mail.rcpt_tos == ["carol@example.com"]
        await term.wait_for("#1 │ ✅ delivered")

        def settled():
            jobs = all_jobs(url)
            return jobs if all(j.state != "pending" for j in jobs if platform(j) in ("console", "slack")) else None

        jobs = await until(settled, lambda: f"every chat job done: {all_jobs(url)}")
        server_owner = server.pitchin.worker.owner
        mine = [j for j in jobs if platform(j) == "console"]
        theirs = [j for j in jobs if platform(j) == "slack" and j.kind != "chat.notice"]
        assert mine and theirs
        # one worker (the console's, the only other one) took every console job, each at the first attempt
        assert len({j.lease_owner for j in mine}) == 1 and mine[0].lease_owner not in (None, server_owner), mine
        assert all(j.attempts == 1 for j in mine), mine
        assert all(j.lease_owner == server_owner and j.attempts == 1 for j in theirs), theirs
        (reply_job,) = [j for j in jobs if j.kind == "customer.reply"]
        assert (reply_job.state, reply_job.attempts) == ("done", 1)
        assert len(server.smtp.messages) == 1
    finally:
        if term is not None:
            await close_console(term)

    try:
        # with no console running, the server leaves the console's jobs alone (no retry every minute):
        # a platform-free job queued after it is done by the server while the console's stays untried
        waiting = queue(url, lambda ctx, s, *a: outbound.post_to_channel(_Ctx(), s, *a), "console", "console",
                        "for the next console")
        later = queue(url, lambda ctx, s, *a: outbound.post_to_person(_Ctx(), s, *a), 999_999, "nobody")
        server.pitchin.worker.wake()
        await until(lambda: next(j for j in all_jobs(url) if j.id == later).state == "done", "the later job done")
        untouched = next(j for j in all_jobs(url) if j.id == waiting)
        assert (untouched.state, untouched.attempts, untouched.lease_owner) == ("pending", 0, None)
    finally:
        await stop_stack(server)

    # the next console start takes it
    again = await open_console(tmp_path, database_url=url)
    try:
        await again.wait_for("📣 #console: for the next console")
    finally:
        await close_console(again)
    assert "A Pitchin server is using this database too" not in again.text


class _Ctx:
    """What outbound.post_to_* need from a context when a test queues a job from outside."""

    def wake(self):
        pass


async def test_no_warning_without_a_server(tmp_path):
    term = await open_console(tmp_path)
    try:
        assert "A Pitchin server is using this database" not in term.text
    finally:
        await close_console(term)
