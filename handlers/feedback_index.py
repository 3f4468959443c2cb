"""The similarity index of suggestion cards, kept in step with the database.

The database is the truth; the index is a cache of every open card's requests. Each lookup first
reads what changed since the last one (new requests by id, and a count of merged cards), so several
processes sharing one database all see each other's feedback.

When a configured embedder (OpenAI) fails, the whole index is rebuilt with the local model and stays
on it for the rest of the process: vectors of two models are never compared in one index, and the
feedback flow goes on. The warning is logged once.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import func, select

from handlers.similarity import CardIndex, Embedder, LocalEmbedder
from storage.models import SuggestionCard, SuggestionRequest

log = logging.getLogger("pitchin.feedback")


class SuggestionIndex:
    def __init__(self, embedder: Embedder | None = None):
        self._embedder = embedder
        self._index: CardIndex[int] | None = None
        self._last_request = 0
        self._merged = 0
        self._lock = threading.RLock()

    def _fresh_index(self) -> CardIndex[int]:
        if self._embedder is None:
            self._embedder = LocalEmbedder()
        return CardIndex(self._embedder)

    def sync(self, session) -> CardIndex[int]:
        with self._lock:
            merged = session.execute(select(func.count()).select_from(SuggestionCard)
                                     .where(SuggestionCard.merged_into_id.is_not(None))).scalar_one()
            if self._index is None or merged != self._merged:
                self._index, self._last_request, self._merged = self._fresh_index(), 0, merged
            rows = session.execute(
                select(SuggestionRequest.id, SuggestionRequest.card_id, SuggestionRequest.text, SuggestionRequest.quote)
                .join(SuggestionCard, SuggestionCard.id == SuggestionRequest.card_id)
                .where(SuggestionRequest.id > self._last_request, SuggestionCard.merged_into_id.is_(None))
                .order_by(SuggestionRequest.id)
            ).all()
            if rows:
                try:
                    self._index.add_many([(card_id, f"{text}\n{quote}".strip()) for _, card_id, text, quote in rows])
                except Exception as exc:
                    if not self._fall_back(self._index.embedder, exc):
                        raise
                    return self.sync(session)  # a fresh index: every request is read again
                self._last_request = rows[-1][0]
            return self._index

    def merged(self, src: int, dst: int) -> None:
        """A merge made in this process: move the requests in the index instead of rebuilding it."""
        with self._lock:
            if self._index is not None and src in self._index:
                self._index.merge(src, dst)
                self._merged += 1

    def similar(self, session, text: str, k: int = 3) -> list[tuple[int, float]]:
        while True:
            index = self.sync(session)
            try:
                return index.similar(text, k)
            except Exception as exc:
                if not self._fall_back(index.embedder, exc):
                    raise

    def _fall_back(self, failed: Embedder, exc: Exception) -> bool:
        """``failed`` raised ``exc``: from now on use the local model, in a fresh index. False when
        there is nothing to fall back to (the local model itself failed)."""
        with self._lock:
            if failed is not self._embedder:
                return True  # another thread has switched already
            if isinstance(failed, LocalEmbedder):
                return False
            self._embedder, self._index = LocalEmbedder(), None
            log.warning("Similar suggestions: the embedder %s failed (%s: %s); using the local model %s until "
                        "Pitchin restarts (the index is rebuilt with it).", failed.name, type(exc).__name__, exc,
                        self._embedder.name)
            return True
