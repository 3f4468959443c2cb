"""The similarity index of suggestion cards, kept in step with the database.

The database is the truth; the index is a cache of every open card's requests. Every transaction
that changes a card or its requests numbers its change with the next suggestion version and stamps
the cards it touched with it (``repos.suggestions_changed``). Each lookup first reads the version
(one small query); when it moved, it reads the cards changed since the version it last saw and
brings exactly those up to date: new requests whatever their ids, merges, undone merges, removals,
made by this process or another one sharing the database.

Why a late commit cannot be missed: ids are handed out when a row is inserted, not when it commits,
so "requests above the last id seen" skips a request whose transaction commits after a later one.
Versions are handed out under a lock on the version row that is held until commit (PostgreSQL; on
SQLite one writer at a time anyway), so they follow commit order: once a lookup reads version v,
every change numbered v or lower is committed and visible to it.

Each request's embedding is kept in the database too (``SuggestionVector``, one row per request and
model): a restart, another process or a rebuild after a merge reads them instead of running the
model again (the local model embeds about 200 texts a second; reading is far faster). Vectors
computed during a read-only transaction wait in memory until the next writing one, or until
``save`` is called (``save`` never waits for a lookup that is embedding: it has a lock of its own).

A lookup computes the few vectors it lacks itself (new requests). When many are missing (the first
start after an upgrade, or a change of model: minutes of work at 90,000 requests), it does not wait:
it answers from the cards indexed so far (whole cards, in id order) and ``fill`` computes the rest in the
background, a batch at a time, without holding the index; ``behind`` says how many requests are not
indexed yet.

When a configured embedder (OpenAI) fails, the whole index is rebuilt with the local model and stays
on it for the rest of the process: vectors of two models are never compared in one index, and the
feedback flow goes on. The warning is logged once.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
from sqlalchemy import and_, or_, select, tuple_

from handlers.local_model import ModelFiles
from handlers.similarity import CardIndex, Embedder, LocalEmbedder
from storage import repos
from storage.models import SuggestionCard, SuggestionRequest, SuggestionVector

log = logging.getLogger("pitchin.feedback")

SAVE_BATCH = 1000  # vectors written per transaction by ``save``
INLINE = 256  # missing vectors a lookup computes itself (about a second); more are left to ``fill``
FILL_BATCH = 256  # vectors ``fill`` computes, then stores, at a time
REBUILD_AT = 500  # cards changed since the last lookup beyond which the whole index is read again instead


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
    if rows:
        session.execute(repos.insert_for(session, SuggestionVector).on_conflict_do_nothing(), rows)


class SuggestionIndex:
    def __init__(self, embedder: Embedder | None = None, db=None, local_model: ModelFiles | None = None):
        """``db``: where a background ``fill`` reads and stores; without it lookups compute every
        missing vector themselves. ``local_model``: the files of the local model, used when there is
        no ``embedder`` or it fails (the bundled model when None)."""
        self._embedder = embedder
        self._local_model = local_model
        self._db = db
        self._index: CardIndex[int] | None = None
        self._version = 0  # the suggestion version the index holds (``repos.suggestions_changed``)
        self._backlog_from: int | None = None  # cards from this id on wait for their vectors: not indexed
        self._requests: dict[int, set[int]] = {}  # card id → the ids of its requests in the index
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
        ``INLINE`` vectors are missing, index only the cards before the first that lacks one and
        leave the rest to a background ``fill``."""
        with self._lock:
            version = repos.suggestion_version(session)
            if self._index is not None and version == self._version and self._backlog_from is None:
                return self._index  # nothing changed anywhere since the last lookup
            changed: list[int] = []
            if self._index is not None:
                changed = repos.suggestion_cards_changed_since(session, self._version)
                if self._backlog_from is not None:  # those from there on are read with the backlog
                    changed = [card_id for card_id in changed if card_id < self._backlog_from]
                if len(changed) > REBUILD_AT:
                    self._index = None
            if self._index is None:
                self._index, self._requests, self._backlog_from, changed = self._fresh_index(), {}, 0, []
            index = self._index
            model = index.embedder.name
            rows = self._new_rows(index, changed, self._read(session, model, changed))
            try:
                vectors = self._vectors(index, model, rows, None if wait or self._db is None else INLINE)
            except Exception as exc:
                if not self._fall_back(index.embedder, exc):
                    raise
                return self.sync(session, wait)  # a fresh index: every request is read again
            ready, backlog_from = len(vectors), None
            if ready < len(rows):  # whole cards only: a card is never offered on part of its requests
                while ready and rows[ready - 1][1] == rows[ready][1]:
                    ready -= 1
                backlog_from = rows[ready][1]
                if self._backlog_from is None or backlog_from < self._backlog_from:
                    for card_id in index.card_ids():  # (rare: a changed card lacks many vectors)
                        if card_id >= backlog_from:
                            self._forget(card_id)
            if ready:
                index.add_many([(card_id, request_text(text, quote)) for _, card_id, text, quote, _ in rows[:ready]],
                               vectors=vectors[:ready])
                for request_id, card_id, _, _, _ in rows[:ready]:
                    self._requests.setdefault(card_id, set()).add(request_id)
            self._version, self._backlog_from, self.behind = version, backlog_from, len(rows) - ready
            if backlog_from is not None:
                self._fill_in_background()
            if self._unsaved and _writable(session):
                self._store(session)
            return index

    def _read(self, session, model: str, changed: list[int]):
        """The requests of the ``changed`` cards and of the backlog's, with their stored vectors, in card order."""
        wanted = SuggestionRequest.card_id.in_(changed)
        if self._backlog_from is not None:
            wanted = or_(wanted, SuggestionRequest.card_id >= self._backlog_from)
        return session.execute(
            select(SuggestionRequest.id, SuggestionRequest.card_id, SuggestionRequest.text,
                   SuggestionRequest.quote, SuggestionVector.vector)
            .join(SuggestionCard, SuggestionCard.id == SuggestionRequest.card_id)
            .outerjoin(SuggestionVector, and_(SuggestionVector.request_id == SuggestionRequest.id,
                                              SuggestionVector.model == model))
            .where(wanted, SuggestionCard.merged_into_id.is_(None))
            .order_by(SuggestionRequest.card_id, SuggestionRequest.id)
        ).all()

    def _new_rows(self, index: CardIndex[int], changed: list[int], rows) -> list:
        """The rows to add. A changed card that only gained requests (the usual change, and the
        target of a merge) keeps those indexed and gets the new ones; one that lost any (merged
        away, a merge undone, a removal) is forgotten and indexed again whole. Each request moved or
        re-added counts towards re-whitening the index, so only what changed is."""
        now: dict[int, set[int]] = {}
        for request_id, card_id, _, _, _ in rows:
            now.setdefault(card_id, set()).add(request_id)
        kept: set[int] = set()
        for card_id in changed:
            held = self._requests.get(card_id, set())
            if held <= now.get(card_id, set()):
                kept |= held
            else:
                self._forget(card_id)
        return [row for row in rows if row[0] not in kept]

    def _forget(self, card_id: int) -> None:
        self._index.remove_card(card_id)
        self._requests.pop(card_id, None)

    def _vectors(self, index: CardIndex[int], model: str, rows, limit: int | None = None) -> np.ndarray:
        """One vector per row: stored, computed earlier in this process, or computed now; when more
        than ``limit`` are missing, none is computed and only the rows before the first missing one
        get theirs."""
        if not rows:
            return np.zeros((0, 0), np.float32)
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
            computed, after, embedder = 0, (0, 0), None
            reported = time.monotonic()
            while True:
                if time.monotonic() - reported > 30:
                    log.info("Suggestion vectors: %d computed so far, continuing", computed)
                    reported = time.monotonic()
                with self._lock:
                    if self._embedder is None:
                        self._embedder = LocalEmbedder(self._local_model)
                    if self._embedder is not embedder:  # the first round, or the model changed: from the start
                        embedder, after = self._embedder, (0, 0)
                model = embedder.name
                with db.transaction(read_only=True) as session:
                    rows = session.execute(
                        select(SuggestionRequest.id, SuggestionRequest.card_id, SuggestionRequest.text,
                               SuggestionRequest.quote)
                        .join(SuggestionCard, SuggestionCard.id == SuggestionRequest.card_id)
                        .outerjoin(SuggestionVector, and_(SuggestionVector.request_id == SuggestionRequest.id,
                                                          SuggestionVector.model == model))
                        # in card order, as lookups index whole cards: the backlog shrinks as this goes
                        .where(tuple_(SuggestionRequest.card_id, SuggestionRequest.id) > tuple_(*after),
                               SuggestionCard.merged_into_id.is_(None), SuggestionVector.request_id.is_(None))
                        .order_by(SuggestionRequest.card_id, SuggestionRequest.id).limit(FILL_BATCH)
                    ).all()
                if not rows:
                    return computed
                try:
                    vectors = embedder.embed([request_text(text, quote) for _, _, text, quote in rows])
                except Exception as exc:
                    if not self._fall_back(embedder, exc):
                        raise
                    continue
                self.embedded += len(rows)
                computed += len(rows)
                with db.transaction() as session:
                    _insert_missing(session, [((request_id, model), _encode(vector))
                                              for (request_id, _, _, _), vector in zip(rows, vectors)])
                after = (rows[-1][1], rows[-1][0])

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
