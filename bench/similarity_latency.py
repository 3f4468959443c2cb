"""Similar-card lookup latency over 20,000 cards, and the time to embed and file a new card.

What is built
    ``--cards`` cards (default 20,000) synthesised deterministically (``random.Random(--seed)``)
    from banking77's customer queries (shared/ beside this repository): each card takes one query
    as its theme and holds 1 + min(30, ⌊Exp(mean 4)⌋) requests (about 5 on average, so about
    100,000 requests for 20,000 cards): queries of the same intent, each varied by a greeting, a
    product area ("in the iOS app", …), a closing, a dropped word or a typo, so no two cards are
    alike. The index is built with ``CardIndex.add_many`` in batches of 5,000 (``build_seconds``)
    from stored vectors, as Pitchin does at start (it keeps every request's embedding in the
    database): a request's vector is its banking77 query's embedding plus a little deterministic
    noise (σ 0.02 per dimension, renormalised), so only the 3,080 distinct queries are embedded.
    ``--embed-all`` embeds every varied request instead (about 200 a second: minutes).

What is measured
    ``similar``: ``--lookups`` calls of ``index.similar(text, k=3)`` (after 50 uncounted), each with
    a fresh varied query, embedded for real: wall time of the whole call (embedding the text,
    whitening it, scoring every card). ``embed``: ``embedder.embed([text])`` for a new card's
    first request; ``add``: ``index.add(new_card, text)`` (embedding and filing it), ``--new-cards``
    times each. ``same_as_exhaustive``: for 200 of the queries, whether the three cards offered
    are those of comparing every request of every card (no shortlist). ``rewhiten_seconds``: recomputing the whitening over the whole index, which
    happens after every tenth of growth. Sequential, one thread; the machine's other load is shown as ``load_1m``.
    ``index_mb``: the index's numpy arrays (allocated capacity).

    python bench/similarity_latency.py [--cards 20000] [--lookups 1000] [--new-cards 300] [--seed 0] [--embed-all]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.similarity import CardIndex, LocalEmbedder, normalize_rows  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from similarity import DEFAULT_CSV, read_rows  # noqa: E402

GREETINGS = ["", "", "Hi, ", "Hello team, ", "Quick question: ", "Hey, ", "Our customer asks: ", "FYI - "]
AREAS = ["", "", "", " in the iOS app", " in the Android app", " on the web dashboard", " for business accounts",
         " with the API", " for our team plan", " in the EU", " on Apple Pay", " when travelling abroad",
         " after the last update", " for joint accounts", " with a virtual card", " on the desktop site"]
CLOSINGS = ["", "", "", " Thanks!", " Please help.", " This is urgent.", " Any update?", " Cheers"]


def vary(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) > 4 and rng.random() < 0.3:
        del words[rng.randrange(len(words))]
    if words and rng.random() < 0.2:
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 3:
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    body = " ".join(words).rstrip("?.!")
    return f"{rng.choice(GREETINGS)}{body}{rng.choice(AREAS)}.{rng.choice(CLOSINGS)}".strip()


def synthesise(rows, cards: int, rng: random.Random) -> tuple[list[tuple[int, str]], list[str]]:
    """(card, varied request) pairs, and the banking77 query each request was made from."""
    by_category: dict[str, list[str]] = {}
    for text, category in rows:
        by_category.setdefault(category, []).append(text)
    pairs, sources = [], []
    for card in range(cards):
        theme, category = rows[rng.randrange(len(rows))]
        n = 1 + min(30, int(rng.expovariate(1 / 4)))
        picked = [theme] + [rng.choice(by_category[category]) for _ in range(n - 1)]
        pairs += [(card, vary(text, rng)) for text in picked]
        sources += picked
    return pairs, sources


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3, 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    p.add_argument("--cards", type=int, default=20000)
    p.add_argument("--lookups", type=int, default=1000)
    p.add_argument("--new-cards", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embed-all", action="store_true", help="embed every request (slow) instead of stored vectors")
    args = p.parse_args()
    rows = read_rows(args.csv)
    rng = random.Random(args.seed)
    pairs, sources = synthesise(rows, args.cards, rng)

    embedder = LocalEmbedder()
    embedder.embed(["warm up"])  # loads the model: not part of any figure
    if args.embed_all:
        vectors = None
    else:
        distinct = sorted(set(sources))
        row_of = {text: i for i, text in enumerate(distinct)}
        base = embedder.embed(distinct)[[row_of[text] for text in sources]]
        noise = np.random.default_rng(args.seed).normal(0.0, 0.02, base.shape).astype(np.float32)
        vectors = normalize_rows(base + noise)
    index: CardIndex[int] = CardIndex(embedder)
    started = time.perf_counter()
    for i in range(0, len(pairs), 5000):
        index.add_many(pairs[i:i + 5000], None if vectors is None else vectors[i:i + 5000])
    build_seconds = time.perf_counter() - started

    cards, requests = len(index), index.request_count()
    queries = [vary(rows[rng.randrange(len(rows))][0], rng) for _ in range(args.lookups + 50)]
    lookups = []
    for i, text in enumerate(queries):
        t0 = time.perf_counter()
        index.similar(text, k=3)
        if i >= 50:
            lookups.append(time.perf_counter() - t0)

    new_texts = [vary(rows[rng.randrange(len(rows))][0], rng) for _ in range(args.new_cards)]
    embeds, adds = [], []
    for i, text in enumerate(new_texts):
        t0 = time.perf_counter()
        embedder.embed([text])
        embeds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.add(args.cards + i, text)
        adds.append(time.perf_counter() - t0)

    # the shortlist: are the three cards offered those of comparing every request?
    shortlist, same = index.shortlist, 0
    for text in queries[:200]:
        index.shortlist = shortlist
        offered = [card for card, _ in index.similar(text, k=3)]
        index.shortlist = len(index)
        same += offered == [card for card, _ in index.similar(text, k=3)]
    index.shortlist = shortlist

    t0 = time.perf_counter()
    index.rewhiten()
    rewhiten_seconds = time.perf_counter() - t0

    arrays = [v for v in vars(index).values() if hasattr(v, "nbytes")]
    print(json.dumps({
        "cards": cards, "requests": requests, "model": embedder.name,
        "build_seconds": round(build_seconds, 2), "whitened": index.whitened,
        "rewhiten_seconds": round(rewhiten_seconds, 2), "embedded_all": args.embed_all,
        "shortlist": shortlist, "same_as_exhaustive": round(same / min(200, len(queries)), 3),
        "similar_p50_ms": pct(lookups, 0.50), "similar_p99_ms": pct(lookups, 0.99),
        "similar_max_ms": pct(lookups, 1.0), "lookups": len(lookups),
        "embed_p50_ms": pct(embeds, 0.50), "embed_p99_ms": pct(embeds, 0.99),
        "add_p50_ms": pct(adds, 0.50), "add_p99_ms": pct(adds, 0.99), "new_cards": len(adds),
        "index_mb": round(sum(a.nbytes for a in arrays) / 2**20, 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
