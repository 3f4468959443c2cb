"""Handlers that compute embeddings leave the event loop, with the local model or a remote one (OpenAI)."""

from __future__ import annotations

import threading

import numpy as np

from handlers import feedback, registry
from handlers.base import Actor, Named
from handlers.context import Context
from handlers.similarity import normalize_rows

ANN = Actor("test", "U-ANN", "Ann")


class RecordingEmbedder:
    """Stands where OpenAI would be: remembers which thread asked for embeddings."""

    name = "recording"

    def __init__(self):
        self.threads: list[str] = []

    def embed(self, texts):
        self.threads.append(threading.current_thread().name)
        rng = np.random.default_rng(len(texts))
        return normalize_rows(rng.normal(size=(len(texts), 16)).astype(np.float32))


async def test_feedback_runs_off_the_event_loop_with_a_remote_embedder(database):
    embedder = RecordingEmbedder()
    ctx = Context(db=database, embedder=embedder)
    reply = await ctx.run(registry.run_feedback, ctx, ANN, "Export invoices to CSV")
    assert reply.text.startswith("New card #1")
    await ctx.run(feedback.log, ctx, ANN, feedback.Draft("Dark mode"))
    assert embedder.threads and threading.main_thread().name not in embedder.threads


async def test_feedback_runs_off_the_event_loop_with_the_local_model(database, model_threads):
    ctx = Context(db=database)
    reply = await ctx.run(registry.run_feedback, ctx, ANN, "Export invoices to CSV")
    assert reply.text.startswith("New card #1")
    await ctx.run(feedback.log, ctx, ANN, feedback.Draft("Export invoices as a spreadsheet"))
    assert model_threads and threading.main_thread().name not in model_threads


async def test_database_work_stays_inline_on_sqlite(database):
    ctx = Context(db=database)
    seen = []
    await ctx.run(lambda: seen.append(threading.current_thread().name))
    assert seen == [threading.main_thread().name]


async def test_commands_that_embed_leave_the_event_loop(database, model_threads):
    ctx = Context(db=database)
    reply = await ctx.run(registry.run_command, ctx, ANN, "department add Billing here about refunds invoices", "",
                          Named(here="CBILL"))
    assert reply.ok, reply.text
    assert model_threads and threading.main_thread().name not in model_threads


def test_only_commands_and_buttons_that_may_wait_leave_the_event_loop(database):
    ctx = Context(db=database)
    slow = registry.run_command.may_embed
    assert slow(ctx, ANN, "brief Billing") and slow(ctx, ANN, "department add Billing here about refunds")
    assert not slow(ctx, ANN, "list") and not slow(ctx, ANN, "claim 3") and not slow(ctx, ANN, "")
    assert not slow(ctx, ANN, "nonsense words")
    assert registry.run_action.may_embed(ctx, ANN, "briefing.post", "1")
    assert not registry.run_action.may_embed(ctx, ANN, "ticket.claim", "1")
