"""Surface-form vectors for the similarity engine: hashed word and character n-grams.

The embedding model (see ``handlers.similarity``) knows what words mean; this knows how they are
spelled. A card's exact vocabulary ("top up", "reverted", "pending", a typo of either) separates
intents that an averaged embedding blurs, so ``CardIndex`` re-ranks its shortlist with both.

Features of a text: lower-cased words (letters and digits of any script) with a crude suffix stem,
word unigrams and bigrams, and character 3–5-grams inside each word (padded with spaces). Each
feature is hashed with CRC-32 (stable across processes, unlike ``hash()``) to one of ``dim``
buckets, with a sign from another bit of the hash; bucket sums are damped (sign · log(1 + |sum|))
and the row is L2-normalised. No vocabulary, no IDF, no state: a text's vector never changes as
the index grows, so it is computed once when the text is added. On banking77 the hashed vectors score as well as an exact TF-IDF over
the same features (bench/SIMILARITY.md).
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

import numpy as np

DEFAULT_DIM = 512
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")  # letters and digits of any script, with an apostrophe
_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def features(text: str) -> list[str]:
    """The word and character n-grams of ``text`` (lower-cased, stemmed), with repeats."""
    words = [_stem(w) for w in _WORD.findall(text.lower())]
    out = []
    for word in words:
        out += _word_features(word)
    out += [f"{a} {b}" for a, b in zip(words, words[1:])]
    return out


def _word_features(word: str) -> list[str]:
    """A stemmed word and its character 3-5-grams (padded with spaces)."""
    padded = f" {word} "
    out = [word]
    for n in (3, 4, 5):
        out += ["#" + padded[i:i + n] for i in range(max(1, len(padded) - n + 1))]
    return out


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    h = zlib.crc32(feature.encode("utf-8"))
    return h % dim, (1.0 if h >> 31 else -1.0)


@lru_cache(maxsize=1 << 16)
def _word_buckets(raw: str, dim: int) -> tuple[str, np.ndarray, np.ndarray]:
    """(stem, buckets, signs) of a lower-cased word's own features: words repeat, hashing them once."""
    word = _stem(raw)
    cols, signs = zip(*(_bucket(f, dim) for f in _word_features(word)))
    return word, np.array(cols, np.intp), np.array(signs, np.float32)


def lexical_vectors(texts: list[str], dim: int = DEFAULT_DIM) -> np.ndarray:
    """One L2-normalised ``float32`` row per text (a text without any word gives a zero row)."""
    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        parts = [_word_buckets(w, dim) for w in _WORD.findall(text.lower())]
        if not parts:
            continue
        bigrams = [_bucket(f"{a[0]} {b[0]}", dim) for a, b in zip(parts, parts[1:])]
        cols = np.concatenate([p[1] for p in parts] + [np.array([c for c, _ in bigrams], np.intp)])
        signs = np.concatenate([p[2] for p in parts] + [np.array([s for _, s in bigrams], np.float32)])
        np.add.at(out[row], cols, signs)
    np.copysign(np.log1p(np.abs(out)), out, out=out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms
