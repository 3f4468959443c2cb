"""What every handler is given: the database and the few settings the core needs."""

from __future__ import annotations

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
    clock: Clock = field(default_factory=SystemClock)
    wake: Callable[[], None] = lambda: None  # tells an in-process delivery worker there is work
    embedder: Any = None  # handlers.similarity.Embedder; the local model when None
    _suggestions: Any = field(default=None, repr=False)  # the suggestion index, built on first use

    @property
    def suggestions(self):
        """The in-memory index of suggestion cards, kept in step with the database."""
        if self._suggestions is None:
            from handlers.feedback_index import SuggestionIndex

            self._suggestions = SuggestionIndex(self.embedder)
        return self._suggestions

    def now(self):
        return self.clock.now()
