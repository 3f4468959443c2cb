"""Card matching quality: is the right card the first one offered, and among the three offered?

What is measured
    Any ``text,category`` CSV (default: banking77's 3,080 test queries, 77 intents, from shared/
    beside this repository). Every category is one card. The split is fixed by ``--seed``: one
    ``random.Random(seed)``; for each category in sorted order, its texts in file order are
    shuffled with it and the first ``--per-card`` become the card's requests, the rest are queries;
    then the queries of all categories are shuffled with the same generator (a realistic stream:
    the file is grouped by category). Each query asks ``CardIndex.similar(text, k=3)``.

    ``first`` / ``among_three``: static, the cards hold only their ``--per-card`` seed requests.
    ``first_online`` / ``among_three_online``: the same stream, but after being scored each query is
    added to its true card, as when an employee accepts "Add to this card" (the index learns).
    ``first_accepted`` / ``among_three_accepted``: as online, but a query joins its true card only if
    that card was among the three offered (only then could the employee accept it); the others are
    not learned (``--misses drop``), or each becomes a card of its own, as "Create new" would make it,
    never counted as the right card for the queries after it (``--misses new-card``: duplicates that
    nobody merges).

    ``--centroid-weight``, ``--shrink``, ``--whiten-from``, ``--dims`` and ``--shortlist`` reproduce
    the variants of bench/SIMILARITY.md (e.g. ``--centroid-weight 0 --shrink 0`` is plain "most
    similar request" cosine, the issue's reference scoring, here with the local model MiniLM).

    Every text is embedded once, in batches, before the passes: they measure the index's matching,
    not the model's speed (bench/similarity_latency.py times that).

    ``--engine openai`` uses ``bot.llm.OpenAIEmbedder`` with OPENAI_API_KEY, OPENAI_BASE_URL (optional)
    and PITCHIN_OPENAI_EMBEDDING_MODEL (default text-embedding-3-small) from the environment; without
    a key it stops with an error. To see it run without a key: ``python -m tests.fakes.openai_api`` and
    OPENAI_API_KEY=sk-fake OPENAI_BASE_URL=<its URL> (its hashed bag of words scores nothing real).
    Nothing is downloaded.

    python bench/similarity.py [--csv PATH] [--per-card 5] [--seed 0] [--engine local|openai]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.similarity import CardIndex, Embedder, LocalEmbedder  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "banking77" / "test.csv"


def read_rows(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["text"], row["category"]) for row in csv.DictReader(f)]


def split(rows: list[tuple[str, str]], per_card: int, seed: int):
    """(card requests, query stream), both as (text, category) lists; see the module docstring."""
    rng = random.Random(seed)
    by_category: dict[str, list[str]] = {}
    for text, category in rows:
        by_category.setdefault(category, []).append(text)
    requests, queries = [], []
    for category in sorted(by_category):
        texts = list(by_category[category])
        rng.shuffle(texts)
        requests += [(text, category) for text in texts[:per_card]]
        queries += [(text, category) for text in texts[per_card:]]
    rng.shuffle(queries)
    return requests, queries


def evaluate(embedder: Embedder, requests, queries, learn: str, misses: str = "drop",
             **weights) -> tuple[float, float]:
    """learn: "none" (static), "all" (every query joins its true card) or "accepted" (a query joins
    its true card only if that card was offered; misses: "drop" learns nothing from the others,
    "new-card" files each as a card of its own, as "Create new" would)."""
    index: CardIndex[str] = CardIndex(embedder, [(category, text) for text, category in requests], **weights)
    first = among = 0
    for number, (text, category) in enumerate(queries):
        offered = [card for card, _ in index.similar(text, k=3)]
        first += bool(offered) and offered[0] == category
        among += category in offered
        if learn == "all" or (learn == "accepted" and category in offered):
            index.add(category, text)
        elif learn == "accepted" and misses == "new-card":
            index.add(f"{category} (new card {number})", text)  # never counted as the right card
    n = max(len(queries), 1)
    return round(first / n, 4), round(among / n, 4)


def make_embedder(engine: str) -> Embedder:
    if engine == "local":
        return LocalEmbedder()
    if not os.environ.get("OPENAI_API_KEY", "").strip():
        sys.exit("bench/similarity.py: --engine openai needs OPENAI_API_KEY (OPENAI_BASE_URL for another "
                 "OpenAI-compatible server); use --engine local for the bundled offline model")
    from bot.config import Settings
    from bot.llm import DEFAULT_EMBEDDING_MODEL, OpenAIEmbedder, make_llm_client

    settings = Settings(openai_api_key=os.environ["OPENAI_API_KEY"].strip(),
                        openai_base_url=os.environ.get("OPENAI_BASE_URL", "").strip(),
                        openai_embedding_model=os.environ.get("PITCHIN_OPENAI_EMBEDDING_MODEL", "").strip()
                        or DEFAULT_EMBEDDING_MODEL)
    client = make_llm_client(settings, timeout=60.0, max_retries=5)  # a batch job: patience, not latency
    # cache every text: the online pass asks for the same texts again
    return OpenAIEmbedder(client, settings.openai_embedding_model, cache_size=1_000_000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="text,category CSV (default: banking77 test)")
    p.add_argument("--per-card", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine", choices=("local", "openai"), default="local")
    p.add_argument("--centroid-weight", type=float, default=None)
    p.add_argument("--shrink", type=float, default=None, help="whitening: 0 (none) to 1 (unshrunk)")
    p.add_argument("--whiten-from", type=int, default=None, help="whiten once the index holds this many requests")
    p.add_argument("--dims", type=int, default=None, help="whitened directions kept (384: all of MiniLM's)")
    p.add_argument("--shortlist", type=int, default=None, help="cards whose requests are compared one by one")
    p.add_argument("--no-online", action="store_true", help="skip the online and accepted passes")
    p.add_argument("--misses", choices=("drop", "new-card"), default="drop",
                   help="accepted pass: what becomes of a query whose card was not offered")
    args = p.parse_args()
    if not args.csv.exists():
        sys.exit(f"bench/similarity.py: no such CSV: {args.csv}")
    embedder = make_embedder(args.engine)
    refusals: tuple[type[Exception], ...] = ()
    if args.engine == "openai":
        from bot.llm import EmbeddingError

        refusals = (EmbeddingError,)
    try:
        run(args, embedder)
    except refusals as exc:
        sys.exit(f"bench/similarity.py: --engine openai: {exc}")


class Remembered:
    """An embedder that embeds a known set of texts once, up front, and serves them from memory."""

    def __init__(self, inner: Embedder, texts: list[str]):
        self.inner, self.name = inner, inner.name
        distinct = list(dict.fromkeys(texts))
        self._vectors = dict(zip(distinct, inner.embed(distinct)))

    def embed(self, texts: list[str]):
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.inner.embed(missing)))
        return np.stack([self._vectors[t] for t in texts])


def run(args, embedder: Embedder) -> None:
    weights = {name: value for name, value in (
        ("centroid_weight", args.centroid_weight), ("shrink", args.shrink), ("whiten_from", args.whiten_from),
        ("dims", args.dims), ("shortlist", args.shortlist))
        if value is not None}
    requests, queries = split(read_rows(args.csv), args.per_card, args.seed)
    started = time.perf_counter()
    # every text embedded once, in batches; the passes then look each one up (the index's own
    # arithmetic is what they compare; bench/similarity_latency.py times embedding one text)
    embedder = Remembered(embedder, [text for text, _ in requests + queries])
    first, among = evaluate(embedder, requests, queries, "none", **weights)
    result = {"engine": args.engine, "model": embedder.name, "first": first, "among_three": among}
    if not args.no_online:
        result["first_online"], result["among_three_online"] = evaluate(embedder, requests, queries, "all", **weights)
        result["first_accepted"], result["among_three_accepted"] = evaluate(
            embedder, requests, queries, "accepted", args.misses, **weights)
        result["misses"] = args.misses
    defaults = CardIndex(embedder)
    result.update({
        "cards": len({category for _, category in requests}), "queries": len(queries),
        "per_card": args.per_card, "seed": args.seed, "csv": args.csv.name,
        "centroid_weight": weights.get("centroid_weight", defaults.centroid_weight),
        "shrink": weights.get("shrink", defaults.shrink),
        "whiten_from": weights.get("whiten_from", defaults.whiten_from),
        "dims": weights.get("dims", defaults.dims),
        "shortlist": weights.get("shortlist", defaults.shortlist),
        "seconds": round(time.perf_counter() - started, 2),
    })
    if hasattr(embedder.inner, "api_calls"):
        result["api_calls"] = embedder.inner.api_calls
    print(json.dumps(result))


if __name__ == "__main__":
    main()
