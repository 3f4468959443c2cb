"""Text similarity for the suggestion tracker: which existing cards is a new request about?

``CardIndex`` holds the requests (customer feedback texts) of every card and answers
``similar(text, k=3)``: the ``k`` cards most like ``text``, best first, each with a score in [-1, 1].
A card is matched by its requests, and it learns online: when an employee accepts "Add to this
card", the tracker calls ``index.add(card_id, text)`` and the next similar request finds the card
more easily (bench/SIMILARITY.md measures both the static and this online use).

Scoring (chosen on banking77 with tuning seeds 1–3, reported on seed 0; see bench/SIMILARITY.md):

1. every card gets ``max`` (cosine of the request's embedding to the card's most similar request)
   plus ``centroid_weight`` × cosine to the card's centroid (normalised mean of its requests);
2. the ``shortlist`` best cards by that are re-ranked after adding surface-form evidence from
   ``similarity_lexical``: ``lexical_weight`` × the best lexical cosine to one of the card's
   requests plus ``lexical_centroid_weight`` × the lexical cosine to the card's lexical centroid;
3. the returned score is that sum divided by the sum of the weights: a weighted mean of cosines.

Embeddings come from an ``Embedder``: ``LocalEmbedder`` (wordllama's bundled 256-d model, numpy
only, offline) by default; an OpenAI embedder lives under ``bot/`` and is injected when configured
(handlers import no platform SDK).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from handlers.similarity_lexical import DEFAULT_DIM as LEXICAL_DIM
from handlers.similarity_lexical import lexical_vectors

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
    """Texts → one L2-normalised ``float32`` row each (a text with no words may give a zero row)."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


_MODEL_LOCK = threading.Lock()
_MODELS: dict[int, Any] = {}


def _wordllama(dim: int) -> Any:
    """The wordllama model bundled with the package, loaded once per process, never downloaded."""
    with _MODEL_LOCK:
        model = _MODELS.get(dim)
        if model is None:
            import wordllama  # lazily: importing it loads tokenizers and configures root logging
            from wordllama import WordLlama

            model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True,
                                   dim=256, trunc_dim=None if dim == 256 else dim)
            _MODELS[dim] = model
        return model


class LocalEmbedder:
    """wordllama (l2_supercat, 256-d; matryoshka truncation to 64 or 128 possible), offline, CPU.

    The model is a token-embedding table averaged over a text's tokens: about 10,000 texts a second
    on one core. It is loaded on first use and shared by every ``LocalEmbedder`` of the process.
    """

    def __init__(self, dim: int = 256):
        if dim not in (64, 128, 256):
            raise ValueError(f"wordllama's bundled model has 256 dimensions (64 or 128 by truncation), not {dim}")
        self.dim = dim
        self.name = f"wordllama-l2_supercat-{dim}"

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        cut = [t[:MAX_CHARS] for t in texts]
        order = sorted(range(len(cut)), key=lambda i: len(cut[i]))  # batches of similar length pad less
        vectors = _wordllama(self.dim).embed([cut[i] for i in order], norm=False, batch_size=64)
        out = np.empty_like(vectors)
        out[order] = vectors
        return normalize_rows(out)


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

    Memory: about 2 KB per request (256-d float32 embedding, 512-d float16 lexical vector) and
    1 KB per card (the sum of its embeddings), plus up to half as much again of spare capacity.
    """

    def __init__(self, embedder: Embedder, pairs: Iterable[tuple[K, str]] = (), *,
                 centroid_weight: float = 1.0, lexical_weight: float = 0.5,
                 lexical_centroid_weight: float = 0.5, shortlist: int = 32, lexical_dim: int = LEXICAL_DIM):
        self.embedder = embedder
        self.centroid_weight = centroid_weight
        self.lexical_weight = lexical_weight
        self.lexical_centroid_weight = lexical_centroid_weight
        self.shortlist = shortlist
        self.lexical_dim = lexical_dim
        self._lock = threading.RLock()
        self._n = 0  # requests stored: rows [0, _n) of _vec, _lex, _owner
        self._vec = np.zeros((0, 0), np.float32)
        self._lex = np.zeros((0, lexical_dim), np.float16)
        self._owner = np.zeros(0, np.int32)  # slot of each request's card
        self._slot_of: dict[K, int] = {}
        self._ids: list[K | None] = []  # card id of each slot (None: free)
        self._free: list[int] = []
        self._count = np.zeros(0, np.int64)  # requests per slot
        self._sum = np.zeros((0, 0), np.float32)  # sum of each slot's request embeddings
        self._norm = np.zeros(0, np.float32)  # its L2 norm: centroid cosine = sum · query / norm
        self.add_many(pairs)

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, card_id: object) -> bool:
        return card_id in self._slot_of

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
        query = self.embedder.embed([text])[0]
        query_lex = lexical_vectors([text], self.lexical_dim)[0]
        with self._lock:
            if not self._slot_of:
                return []
            n, slots = self._n, len(self._ids)
            # einsum, not BLAS: a matrix-vector product is memory-bound, and OpenBLAS's threads
            # only add latency spikes when the other core is busy (bench/SIMILARITY.md)
            best = np.full(slots, -np.inf, np.float32)
            np.maximum.at(best, self._owner[:n], _dot(self._vec[:n], query))
            norms = self._norm[:slots]
            centroid = _dot(self._sum[:slots], query) / np.where(norms == 0, 1.0, norms)
            base = best + self.centroid_weight * centroid
            for card_id in exclude:
                if card_id in self._slot_of:
                    base[self._slot_of[card_id]] = -np.inf
            m = min(max(self.shortlist, k), int(np.isfinite(base).sum()))
            if m == 0:
                return []
            cand = np.argpartition(-base, m - 1)[:m]
            # re-rank the shortlist with the lexical vectors of its cards' requests
            rows = np.flatnonzero(np.isin(self._owner[:n], cand))
            position = np.zeros(slots, np.int64)
            position[cand] = np.arange(m)
            owner = position[self._owner[rows]]
            lex = self._lex[rows].astype(np.float32)
            lex_best = np.full(m, -np.inf, np.float32)
            np.maximum.at(lex_best, owner, lex @ query_lex)
            lex_centroid = normalize_rows(_group_sums(lex, owner)[1]) @ query_lex
            total = 1.0 + self.centroid_weight + self.lexical_weight + self.lexical_centroid_weight
            score = (base[cand] + self.lexical_weight * lex_best
                     + self.lexical_centroid_weight * lex_centroid) / total
            order = np.lexsort((cand, -score))[:k]  # ties broken by slot: deterministic
            return [(self._ids[cand[i]], float(np.clip(score[i], -1.0, 1.0)))
                    for i in order if score[i] >= min_score]

    # ------------------------------------------------------------------ writing

    def add(self, card_id: K, text: str) -> None:
        """File ``text`` as a request of ``card_id`` (a new card if unknown)."""
        self.add_many([(card_id, text)])

    def add_many(self, pairs: Iterable[tuple[K, str]]) -> None:
        pairs = list(pairs)
        if not pairs:
            return
        texts = [text for _, text in pairs]
        vectors = np.asarray(self.embedder.embed(texts), np.float32)
        lexical = lexical_vectors(texts, self.lexical_dim)
        with self._lock:
            if self._vec.shape[1] == 0:
                dim = vectors.shape[1]
                self._vec = np.zeros((0, dim), np.float32)
                self._sum = np.zeros((len(self._ids), dim), np.float32)
            elif vectors.shape[1] != self._vec.shape[1]:
                raise ValueError(f"embedder {self.embedder.name} gave {vectors.shape[1]} dimensions, "
                                 f"the index holds {self._vec.shape[1]}")
            owners = np.array([self._slot(card_id) for card_id, _ in pairs], np.int32)
            start, end = self._n, self._n + len(pairs)
            self._vec, self._lex = _grow(self._vec, end), _grow(self._lex, end)
            self._owner = _grow(self._owner, end)
            self._vec[start:end], self._lex[start:end], self._owner[start:end] = vectors, lexical, owners
            self._n = end
            np.add.at(self._count, owners, 1)
            touched, sums = _group_sums(vectors, owners)
            self._sum[touched] += sums
            self._norm[touched] = np.linalg.norm(self._sum[touched], axis=1)

    def remove_card(self, card_id: K) -> bool:
        """Forget ``card_id`` and its requests; False if it was not there."""
        with self._lock:
            slot = self._slot_of.pop(card_id, None)
            if slot is None:
                return False
            self._drop_rows(self._owner[:self._n] == slot)
            self._release(slot)
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
            self._norm[d] = np.linalg.norm(self._sum[d])
            self._release(s)

    # ------------------------------------------------------------------ slots

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
            self._norm = _grow(self._norm, slot + 1)
        self._slot_of[card_id] = slot
        return slot

    def _release(self, slot: int) -> None:
        self._ids[slot] = None
        self._count[slot] = 0
        self._sum[slot] = self._norm[slot] = 0.0
        self._free.append(slot)

    def _drop_rows(self, drop: np.ndarray) -> None:
        keep = np.flatnonzero(~drop)
        n = len(keep)
        self._vec[:n], self._lex[:n], self._owner[:n] = self._vec[keep], self._lex[keep], self._owner[keep]
        self._n = n
