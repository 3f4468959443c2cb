"""Quitting the console while a reply waits in its undo window: the person is asked to send it now
(y), keep it for the next start (k) or cancel it (c). Driven through run_console, the console's real
entry, with its real delivery worker, a real SMTP server (aiosmtpd) or a real Maildir."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.console import QueueLines, run_console
from storage.db import Database
from storage.models import OutboxJob, TicketMessage
from tests.console.test_console import CAROL, DEADLINE, Term, close_console, console_settings, open_console, until
from tests.fakes.smtp import SmtpSink

ASKED = "1 reply is waiting to go to carol@example.com: send it now (y), keep it for the next start (k), " \
        "or cancel it (c)?"


@pytest.fixture
def sink():
    s = SmtpSink()
    s.start()
    yield s
    s.stop()


def replies(tmp_path: Path, name: str = "pitchin.db") -> list[tuple[TicketMessage, OutboxJob]]:
    db = Database(f"sqlite:///{tmp_path / name}")
    try:
        with db.transaction(read_only=True) as session:
            return [tuple(row) for row in session.execute(
                select(TicketMessage, OutboxJob).join(OutboxJob, OutboxJob.id == TicketMessage.delivery_job_id)
                .where(TicketMessage.kind == "reply").order_by(TicketMessage.id)).all()]
    finally:
        db.dispose()


async def reply_to_carol(term: Term, text: str = "We refunded the second charge.") -> None:
    await term.post_message(CAROL)
    await term.wait_for("└─ claim 1")
    await term.type(f"reply 1 {text}", "take it back")


async def quit_and_answer(term: Term, *answers: str) -> str:
    mark = len(term.text)
    term.lines.feed("quit")
    await term.wait_for(ASKED, mark)
    term.lines.feed(*answers)
    await asyncio.wait_for(term.task, DEADLINE + 30)
    await term.http.close()
    return term.text[mark:]


async def test_send_now_delivers_at_once_and_says_where(tmp_path, sink):
    term = await open_console(tmp_path, undo_seconds=600, smtp_url=sink.url)
    await reply_to_carol(term)
    out = await quit_and_answer(term, "y")
    assert "#1 │ ✅ Sent to carol@example.com by email." in out, out
    assert out.rstrip().endswith("Bye.")
    (mail,) = await sink.wait_for(1)
    assert mail.rcpt_tos == ["carol@example.com"] and "refunded the second charge" in mail.text
    ((reply, job),) = replies(tmp_path)
    assert (reply.delivery_state, job.state, job.attempts) == ("sent", "done", 1)
    assert len(sink.messages) == 1


async def test_keep_leaves_it_queued_and_the_next_start_sends_it_once(tmp_path, sink):
    term = await open_console(tmp_path, undo_seconds=6, smtp_url=sink.url)
    await reply_to_carol(term)
    out = await quit_and_answer(term, "k")
    assert "Kept: the reply to carol@example.com goes out at the next start of Pitchin on this database" in out, out
    assert out.rstrip().endswith("Bye.")
    ((reply, job),) = replies(tmp_path)
    assert (reply.delivery_state, job.state, job.attempts) == ("pending", "pending", 0)
    assert sink.messages == []

    again = await open_console(tmp_path, smtp_url=sink.url)  # the same database: its worker finds the reply
    try:
        (mail,) = await sink.wait_for(1, timeout=DEADLINE + 6)
        assert "refunded the second charge" in mail.text
        await until(lambda: replies(tmp_path)[0][0].delivery_state == "sent", "the reply marked sent")
        await again.wait_for("#1 │ ✅ delivered")  # shown where it was written, by the console that restarted
    finally:
        await close_console(again)  # nothing waits any more: no question, just "Bye."
    assert again.text.rstrip().endswith("Bye.") and "waiting to go" not in again.text
    ((reply, job),) = replies(tmp_path)
    assert (job.state, job.attempts) == ("done", 1)
    assert len(sink.messages) == 1


async def test_cancel_takes_the_reply_back_as_undo_would(tmp_path):
    term = await open_console(tmp_path, undo_seconds=600)
    await reply_to_carol(term, "Oops, wrong customer")
    out = await quit_and_answer(term, "c")
    assert "#1 │ Taken back: the customer will not get it." in out, out
    ((reply, job),) = replies(tmp_path)
    assert (reply.delivery_state, job.state, job.attempts) == ("cancelled", "cancelled", 0)
    assert term.mails() == []


async def test_an_unclear_answer_is_asked_again(tmp_path):
    term = await open_console(tmp_path, undo_seconds=600)
    await reply_to_carol(term)
    out = await quit_and_answer(term, "maybe", "c")
    assert "Type y (send now), k (keep for the next start) or c (cancel)." in out
    assert "Taken back" in out


async def test_several_replies_are_named_with_their_addresses(tmp_path):
    term = await open_console(tmp_path, undo_seconds=600)
    await reply_to_carol(term)
    await term.post_message({**CAROL, "email": "dave@example.com", "name": "Dave", "subject": "Invoice"})
    await term.wait_for("└─ claim 2")
    await term.type("reply 2 Here it is.", "take it back")
    mark = len(term.text)
    term.lines.feed("exit")
    await term.wait_for("2 replies are waiting to go to carol@example.com and dave@example.com: send them now (y), "
                        "keep them for the next start (k), or cancel them (c)?", mark)
    term.lines.feed("k")
    await asyncio.wait_for(term.task, DEADLINE)
    await term.http.close()
    assert "Kept: the 2 replies to carol@example.com and dave@example.com go out at the next start" in term.text[mark:]


async def test_input_that_ends_at_once_keeps_the_reply_and_says_so(tmp_path):
    term = await open_console(tmp_path, undo_seconds=600)
    await reply_to_carol(term)
    mark = len(term.text)
    term.lines.close()  # a script's stdin, or a pipe: nobody can answer
    await asyncio.wait_for(term.task, DEADLINE)
    await term.http.close()
    out = term.text[mark:]
    assert "The input has ended, so nothing can be asked: keeping them (k)." in out, out
    assert "Kept: the reply to carol@example.com goes out at the next start" in out
    assert out.rstrip().endswith("Bye.")
    ((reply, job),) = replies(tmp_path)
    assert (reply.delivery_state, job.state) == ("pending", "pending")


async def test_ctrl_d_on_a_terminal_still_asks(tmp_path):
    """A terminal is read on after Ctrl-D (QueueLines(reopens=True) behaves like one)."""
    settings = console_settings(tmp_path, undo_seconds=600)
    lines, out = QueueLines(reopens=True), io.StringIO()
    task = asyncio.create_task(run_console(settings, lines, out, user="ann"))
    term = Term(lines, out, task, aiohttp.ClientSession(), Path(settings.maildir))
    await until(lambda: "quit` to leave" in out.getvalue(), "the banner")
    term.port = int(re.search(r"127\.0\.0\.1:(\d+)/intake", term.text).group(1))
    await reply_to_carol(term)
    mark = len(term.text)
    lines.close()  # Ctrl-D
    await term.wait_for(ASKED, mark)
    lines.feed("c")
    await asyncio.wait_for(task, DEADLINE)
    await term.http.close()
    assert "Taken back" in term.text[mark:]


async def test_without_a_waiting_reply_quitting_just_says_bye(tmp_path):
    term = await open_console(tmp_path, undo_seconds=0.2)
    await reply_to_carol(term)
    await term.wait_mails(1)
    await until(lambda: replies(tmp_path)[0][1].state == "done", "the reply's job done")
    term.lines.feed("quit")
    await asyncio.wait_for(term.task, DEADLINE)
    await term.http.close()
    assert "waiting to go" not in term.text and term.text.rstrip().endswith("Bye.")
