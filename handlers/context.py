"""What every handler is given: the database and the few settings the core needs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable

from handlers.base import Clock, SystemClock
from storage.db import Database


@dataclass
class Context:
    db: Database
    platforms: tuple[str, ...] = ()  # chat platforms every ticket is posted on ("slack", "console", …)
    undo_seconds: float = 10.0
    mail_domain: str = "pitchin.invalid"  # right-hand side of our Message-IDs
    escalate_minutes: int = 30  # working minutes a ticket may stay unclaimed before the person on duty is sent it
    public_url: str = ""  # PITCHIN_PUBLIC_URL without a trailing slash: survey links, chart images
    surveys: bool = True  # PITCHIN_SURVEYS
    survey_delay_hours: float = 24.0  # PITCHIN_SURVEY_DELAY_HOURS: a ticket stays closed this long before its survey
    survey_days: int = 30  # PITCHIN_SURVEY_DAYS: at most one survey per customer in this many days
    clock: Clock = field(default_factory=SystemClock)
    wake: Callable[[], None] = lambda: None  # tells an in-process delivery worker there is work
    # tells the message-vectors job (bot/scheduler.py) a customer text waits for its vector; from any thread
    texts_arrived: Callable[[], None] = lambda: None
    embedder: Any = None  # handlers.similarity.Embedder; the local model when None
    local_model: Any = None  # handlers.local_model.ModelFiles: the local model's files; the bundled ones when None
    writer: Any = None  # handlers.briefing_text.IssueWriter: writes issues' labels (OPENAI_API_KEY); None: no AI
    drafter: Any = None  # handlers.ai_assist.ReplyDrafter: drafts replies, summarises threads (OPENAI_API_KEY); None: no AI
    _suggestions: Any = field(default=None, repr=False)  # the suggestion index, built on first use

    @property
    def suggestions(self):
        """The in-memory index of suggestion cards, kept in step with the database."""
        if self._suggestions is None:
            from handlers.feedback_index import SuggestionIndex

            self._suggestions = SuggestionIndex(self.embedder, self.db, self.local_model)
        return self._suggestions

    def now(self):
        return self.clock.now()

    async def run(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Run a handler from async code (the adapters' one way in).

        Database work runs as ``Database.run`` decides (inline on SQLite, in a thread on PostgreSQL);
        a handler marked ``may_embed`` always runs in a thread: the local model computes for several
        milliseconds a text (and more when the index reads new requests), OpenAI waits on the
        network, and the event loop keeps serving meanwhile. ``may_embed`` may also be a function of
        the call's arguments (a command that embeds only for some words: handlers.registry)."""
        embeds = getattr(fn, "may_embed", False)
        if callable(embeds):
            embeds = embeds(*args, **kwargs)
        if embeds:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return await self.db.run(fn, *args, **kwargs)
