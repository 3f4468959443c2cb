"""The similarity index of suggestion cards, kept in step with the database.

The database is the truth; the index is a cache of every open card's requests. Each lookup first
reads what changed since the last one (new requests by id, and a count of merged cards), so several
processes sharing one database all see each other's feedback.

Each request's embedding is kept in the database too (``SuggestionVector``, one row per request and
model): a restart, another process or a rebuild after a merge reads them instead of running the
model again (the local model embeds about 200 texts a second; reading is far faster). Vectors
computed during a read-only transaction wait in memory until the next writing one, or until
``save`` is called (``save`` never waits for a lookup that is embedding: it has a lock of its own).

A lookup computes the few vectors it lacks itself (new requests). When many are missing (the first
start after an upgrade, or a change of model: minutes of work at 90,000 requests), it does not wait:
it answers from the requests indexed so far and ``fill`` computes the rest in the background, a batch
at a time, without holding the index; ``behind`` says how many requests are not indexed yet.

When a configured embedder (OpenAI) fails, the whole index is rebuilt with the local model and stays
on it for the rest of the process: vectors of two models are never compared in one index, and the
feedback flow goes on. The warning is logged once.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
from sqlalchemy import and_, func, select

from handlers.local_model import ModelFiles
from handlers.similarity import CardIndex, Embedder, LocalEmbedder
from storage.models import SuggestionCard, SuggestionRequest, SuggestionVector

log = logging.getLogger("pitchin.feedback")

SAVE_BATCH = 1000  # vectors written per transaction by ``save``
INLINE = 256  # missing vectors a lookup computes itself (about a second); more are left to ``fill``
FILL_BATCH = 256  # vectors ``fill`` computes, then stores, at a time


def request_text(text: str, quote: str) -> str:
    """What a request is matched by: the feedback in the logger's words, then the customer's quote."""
    return f"{text}\n{quote}".strip()


def _encode(vector: np.ndarray) -> bytes:
    return np.asarray(vector, "<f2").tobytes()


def _decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, "<f2").astype(np.float32)


def _writable(session) -> bool:
    return not session.connection().get_execution_options().get("pitchin_read_only", False)


def _insert_missing(session, vectors: list[tuple[tuple[int, str], bytes]]) -> None:
    """Insert ((request id, model), encoded vector) pairs, leaving alone any another process stored first."""
    rows = [{"request_id": request_id, "model": model, "vector": blob} for (request_id, model), blob in vectors]
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(SuggestionVector).on_conflict_do_nothing(), rows)


class SuggestionIndex:
    def __init__(self, embedder: Embedder | None = None, db=None, local_model: ModelFiles | None = None):
        """``db``: where a background ``fill`` reads and stores; without it lookups compute every
        missing vector themselves. ``local_model``: the files of the local model, used when there is
        no ``embedder`` or it fails (the bundled model when None)."""
        self._embedder = embedder
        self._local_model = local_model
        self._db = db
        self._index: CardIndex[int] | None = None
        self._last_request = 0
        self._merged: tuple[int, int] = (0, 0)  # (merged cards, Σ id² + merged_into_id) when last read
        self._unsaved: dict[tuple[int, str], bytes] = {}  # (request id, model) → vector not yet stored
        self._lock = threading.RLock()  # the index, held while a sync embeds what it lacks
        self._pending = threading.Lock()  # only ``_unsaved``: held for a moment, never while embedding
        self.embedded = 0  # texts this process has run through a model (the rest came from the database)
        self.behind = 0  # requests not indexed yet: their vectors are being computed in the background
        self._filling = threading.Lock()  # one ``fill`` at a time

    def _fresh_index(self) -> CardIndex[int]:
        if self._embedder is None:
            self._embedder = LocalEmbedder(self._local_model)
        return CardIndex(self._embedder)

    def sync(self, session, wait: bool = True) -> CardIndex[int]:
        """Bring the index up to date with the database. ``wait=False`` (lookups): when more than
        ``INLINE`` vectors are missing, index only the requests before the first of them and leave
        the rest to a background ``fill``."""
        with self._lock:
            # which cards are merged where, in two numbers: a merge or an undone merge anywhere
            # (another process too) changes them, and the index is rebuilt from the stored vectors
            merged = tuple(session.execute(
                select(func.count(), func.coalesce(func.sum(SuggestionCard.id * SuggestionCard.id
                                                            + SuggestionCard.merged_into_id), 0))
                .where(SuggestionCard.merged_into_id.is_not(None))).one())
            if self._index is None or merged != self._merged:
                self._index, self._last_request, self._merged = self._fresh_index(), 0, merged
            index = self._index
            model = index.embedder.name
            rows = session.execute(
                select(SuggestionRequest.id, SuggestionRequest.card_id, SuggestionRequest.text,
                       SuggestionRequest.quote, SuggestionVector.vector)
                .join(SuggestionCard, SuggestionCard.id == SuggestionRequest.card_id)
                .outerjoin(SuggestionVector, and_(SuggestionVector.request_id == SuggestionRequest.id,
                                                  SuggestionVector.model == model))
                .where(SuggestionRequest.id > self._last_request, SuggestionCard.merged_into_id.is_(None))
                .order_by(SuggestionRequest.id)
            ).all()
            ready = len(rows)
            if rows:
                try:
                    vectors = self._vectors(index, model, rows, None if wait or self._db is None else INLINE)
                except Exception as exc:
                    if not self._fall_back(index.embedder, exc):
                        raise
                    return self.sync(session, wait)  # a fresh index: every request is read again
                ready = len(vectors)
                if ready:
                    index.add_many([(card_id, request_text(text, quote))
                                    for _, card_id, text, quote, _ in rows[:ready]], vectors=vectors)
                    self._last_request = rows[ready - 1][0]
                if ready < len(rows):
                    self._fill_in_background()
            self.behind = len(rows) - ready
            if self._unsaved and _writable(session):
                self._store(session)
            return index

    def _vectors(self, index: CardIndex[int], model: str, rows, limit: int | None = None) -> np.ndarray:
        """One vector per row: stored, computed earlier in this process, or computed now; when more
        than ``limit`` are missing, none is computed and only the rows before the first missing one
        get theirs."""
        found: list[np.ndarray | None] = []
        with self._pending:
            blobs = [blob if blob is not None else self._unsaved.get((request_id, model))
                     for request_id, _, _, _, blob in rows]
        for blob in blobs:
            found.append(None if blob is None else _decode(blob))
        dims = {len(v) for v in found if v is not None}
        if len(dims) > 1:  # a model that changed its size under the same name: trust none of them
            found = [None] * len(found)
        missing = [i for i, v in enumerate(found) if v is None]
        if limit is not None and len(missing) > limit:
            return np.stack(found[:missing[0]]) if missing[0] else np.zeros((0, 0), np.float32)
        if missing:
            texts = [request_text(rows[i][2], rows[i][3]) for i in missing]
            computed = index.embedder.embed(texts)
            self.embedded += len(texts)
            with self._pending:
                for i, vector in zip(missing, computed):
                    found[i] = np.asarray(vector, np.float32)
                    self._unsaved[(rows[i][0], model)] = _encode(vector)
        return np.stack(found)

    def _store(self, session) -> None:
        with self._pending:
            pending = list(self._unsaved.items())
        _insert_missing(session, pending)
        with self._pending:
            for key, _ in pending:
                self._unsaved.pop(key, None)

    def save(self, db) -> int:
        """Store the vectors computed in read-only transactions, in batches; how many were written."""
        with self._pending:
            pending = list(self._unsaved.items())
        for start in range(0, len(pending), SAVE_BATCH):
            batch = pending[start:start + SAVE_BATCH]
            with db.transaction() as session:
                _insert_missing(session, batch)
            with self._pending:
                for key, _ in batch:
                    self._unsaved.pop(key, None)
        return len(pending)

    def fill(self, db) -> int:
        """Compute and store every missing vector of the current model, ``FILL_BATCH`` at a time,
        without holding the index (lookups go on meanwhile); how many were computed."""
        with self._filling:
            computed, after, embedder = 0, 0, None
            reported = time.monotonic()
            while True:
                if time.monotonic() - reported > 30:
                    log.info("Suggestion vectors: %d computed so far, continuing", computed)
                    reported = time.monotonic()
                with self._lock:
                    if self._embedder is None:
                        self._embedder = LocalEmbedder(self._local_model)
                    if self._embedder is not embedder:  # the first round, or the model changed: from the start
                        embedder, after = self._embedder, 0
                model = embedder.name
                with db.transaction(read_only=True) as session:
                    rows = session.execute(
                        select(SuggestionRequest.id, SuggestionRequest.text, SuggestionRequest.quote)
                        .join(SuggestionCard, SuggestionCard.id == SuggestionRequest.card_id)
                        .outerjoin(SuggestionVector, and_(SuggestionVector.request_id == SuggestionRequest.id,
                                                          SuggestionVector.model == model))
                        .where(SuggestionRequest.id > after, SuggestionCard.merged_into_id.is_(None),
                               SuggestionVector.request_id.is_(None))
                        .order_by(SuggestionRequest.id).limit(FILL_BATCH)
                    ).all()
                if not rows:
                    return computed
                try:
                    vectors = embedder.embed([request_text(text, quote) for _, text, quote in rows])
                except Exception as exc:
                    if not self._fall_back(embedder, exc):
                        raise
                    continue
                self.embedded += len(rows)
                computed += len(rows)
                with db.transaction() as session:
                    _insert_missing(session, [((request_id, model), _encode(vector))
                                              for (request_id, _, _), vector in zip(rows, vectors)])
                after = rows[-1][0]

    def _fill_in_background(self) -> None:
        if self._db is None or self._filling.locked():
            return

        def run() -> None:
            try:
                started = time.monotonic()
                computed = self.fill(self._db)
                log.info("Suggestion vectors: %d computed and stored in the background in %.1f s", computed,
                         time.monotonic() - started)
            except Exception:
                log.warning("could not compute the missing suggestion vectors; the next lookup tries again",
                            exc_info=True)

        threading.Thread(target=run, name="suggestion-fill", daemon=True).start()

    def unmerged(self) -> None:
        """A merge undone in this process: rebuild the index (from the stored vectors) at the next lookup."""
        with self._lock:
            self._index = None

    def merged(self, src: int, dst: int) -> None:
        """A merge made in this process: move the requests in the index instead of rebuilding it."""
        with self._lock:
            if self._index is not None and src in self._index:
                self._index.merge(src, dst)
                self._merged = (self._merged[0] + 1, self._merged[1] + src * src + dst)

    def similar(self, session, text: str, k: int = 3) -> list[tuple[int, float]]:
        """The ``k`` open cards most like ``text``; while ``behind``, among the requests indexed so far."""
        while True:
            index = self.sync(session, wait=False)
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
            self._embedder, self._index = LocalEmbedder(self._local_model), None
            log.warning("Similar suggestions: the embedder %s failed (%s: %s); using the local model %s until "
                        "Pitchin restarts (the index is rebuilt with it).", failed.name, type(exc).__name__, exc,
                        self._embedder.name)
            return True
