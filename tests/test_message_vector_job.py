"""The message-vectors job: the leader embeds customer texts a moment after they arrive, through the
real HTTP intake; a round can be asked for at once (``Scheduler.run_soon``); a failing model is
logged and the next round fills."""

from __future__ import annotations

import asyncio
import logging
import threading

import numpy as np
from sqlmodel import select

from bot.lease import Lease
from bot.scheduler import MESSAGE_VECTOR_SECONDS, MESSAGE_VECTORS, MessageVectorRounds, Scheduler
from handlers.context import Context
from handlers.message_vectors import MESSAGE, decode, message_text
from handlers.similarity import LocalEmbedder
from storage.db import Database
from storage.models import MessageVector, TicketMessage
from tests.stack import raw_mail, start_stack, stop_stack
from tests.test_scheduler import FAST, until


def stored(db) -> list[MessageVector]:
    with db.transaction(read_only=True) as session:
        return list(session.exec(select(MessageVector)).all())


async def test_a_mail_posted_to_http_intake_gets_its_vector_from_the_leader(sqlite_url):
    stack = await start_stack(sqlite_url, scheduler=True)
    try:
        await until(lambda: stack.pitchin.scheduler.leading, "the process leads")
        status, _ = await stack.post_email(raw_mail(subject="Refund", body="I was charged twice for one order."))
        assert status == 202
        # asked for at intake (ctx.texts_arrived): well before the job's next interval
        await until(lambda: stored(stack.pitchin.db), "the message has its vector", timeout=MESSAGE_VECTOR_SECONDS - 5)
        (row,) = stored(stack.pitchin.db)
        with stack.pitchin.db.transaction(read_only=True) as session:
            message = session.exec(select(TicketMessage)).one()
        assert (row.kind, row.ref_id, row.model) == (MESSAGE, message.id, LocalEmbedder().name)
        expected = LocalEmbedder().embed([message_text("Refund", message.text)])[0]
        assert np.allclose(decode(row.vector), expected, atol=2e-3)
    finally:
        await stop_stack(stack)


class Rounds:
    """A repeat job that counts its rounds; ``hold`` keeps a round going until released."""

    def __init__(self):
        self.started = 0
        self.hold: asyncio.Event | None = None

    async def __call__(self):
        self.started += 1
        if self.hold is not None:
            await self.hold.wait()


async def test_run_soon_runs_a_round_now_or_right_after_the_one_under_way(sqlite_url):
    db = Database(sqlite_url)
    db.upgrade()
    rounds = Rounds()
    scheduler = Scheduler(Context(db=db), Lease(db, **FAST), renew_seconds=0.2)
    scheduler.repeat("job", rounds, seconds=3600)
    try:
        await scheduler.start()
        await until(lambda: rounds.started == 1, "the first round, on taking the lead")
        threading.Thread(target=scheduler.run_soon, args=("job",)).start()  # from another thread, as intake does
        await until(lambda: rounds.started == 2, "a round at once")

        rounds.hold = asyncio.Event()
        scheduler.run_soon("job")
        await until(lambda: rounds.started == 3, "a round that is held")
        scheduler.run_soon("job")
        scheduler.run_soon("job")  # two asks during one round: one more round
        await asyncio.sleep(0.2)  # time for a second round to start, were it allowed to
        assert rounds.started == 3  # not two rounds at once
        rounds.hold.set()
        await until(lambda: rounds.started == 4, "the round asked for meanwhile")
        rounds.hold = None
        await until(lambda: "job" not in scheduler._running, "the rounds are over")
        assert rounds.started == 4
    finally:
        await scheduler.stop()
        db.dispose()


async def test_a_failing_model_is_logged_and_the_next_round_fills(ctx, monkeypatch, caplog):
    from handlers import tickets
    from tests.handlers.test_message_vectors import mail

    opened = tickets.intake(ctx, mail("The invoice page shows an error."))
    asked: list[str] = []

    class Asked:
        def run_soon(self, job_id):
            asked.append(job_id)

    job = MessageVectorRounds(ctx, Asked())
    real = LocalEmbedder.embed

    def broken(embedder, texts):
        raise RuntimeError("onnxruntime: the model file is damaged")

    monkeypatch.setattr(LocalEmbedder, "embed", broken)
    with caplog.at_level(logging.WARNING, "pitchin.scheduler"):
        await job()
        await job()
    assert stored(ctx.db) == []
    warnings = [r for r in caplog.records if "message vectors: could not compute them" in r.getMessage()]
    assert len(warnings) == 2 and "the model file is damaged" in warnings[0].getMessage()
    assert warnings[0].exc_info and not warnings[1].exc_info  # the traceback once, not every round

    monkeypatch.setattr(LocalEmbedder, "embed", real)
    await job()
    assert [(r.kind, r.ref_id) for r in stored(ctx.db)] == [(MESSAGE, opened.message_id)]
    assert asked == []  # one round was enough

    tickets.intake(ctx, mail("First of two", sender="a@example.com"))
    tickets.intake(ctx, mail("Second of two", sender="b@example.com"))
    await MessageVectorRounds(ctx, Asked(), batch=1)()
    assert asked == [MESSAGE_VECTORS]  # a full round asks for the next at once
