"""Saved-reply matching quality: is the right saved reply among the three "Use a saved reply" offers?

What is measured
    banking77's 3,080 test queries (77 intents; shared/data/banking77 beside this repository, or any
    ``text,category`` CSV). For each category, ONE saved reply written from its first request; every
    other request is a customer message, and the question is whether its category's reply is among
    the three offered (and first).

    The split, as bench/similarity.py's with one request a card: one ``random.Random(seed)``; for
    each category in sorted order its texts in file order are shuffled with it and the first is the
    category's "first request"; the others, of all categories, are shuffled with the same generator
    into the stream of customer messages (3,003 for banking77).

    The saved reply of a category, by rule (no text written by hand for any category):
        name: the category's words, lower-cased ("card_arrival" → "card arrival")
        text: "Hi {customer.first_name|there}, thanks for writing to us about {name}. You asked:
              “{first request}” [[the answer]] Best, {me.first_name}"
    It is matched as Pitchin matches any saved reply (handlers.saved_match.match_text: the name, and
    the words with the variables left out) and scored by ``saved_match.reply_index``.

    ``among_three`` / ``first``: static, every reply holds only its own words.
    ``among_three_learning`` / ``first_learning``: the same stream, learning from use as Pitchin
    does: a message whose right reply was among the three offered is taken to be chosen and sent,
    so it joins that reply's examples (``SavedReplyExample``) before the next message is scored; a
    message whose reply was not offered teaches nothing (the tracker's "accepted" mode).
    ``--scoring best`` scores a reply by the best cosine of its own words and its examples only
    (no centroid, no whitening), the alternative measured in bench/SAVED_REPLIES.md.

    One index is kept for the whole stream and examples are added to it (as bench/similarity.py
    does); Pitchin builds the same index from stored vectors at each lookup, so its whitening is
    refitted every time rather than after a tenth more texts: the same scoring, refitted more often.
    Every text is embedded once, in batches, before the passes.

    python bench/saved_replies.py [--csv PATH] [--seed 0] [--scoring index|best]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from similarity import DEFAULT_CSV, Remembered, read_rows, split  # noqa: E402

from handlers.saved_match import match_text, reply_index  # noqa: E402
from handlers.similarity import LocalEmbedder  # noqa: E402


def saved_reply(category: str, first_request: str) -> tuple[str, str]:
    """(name, text) of the category's saved reply, by the rule in the module docstring."""
    name = " ".join(category.replace("_", " ").split()).lower()
    text = (f"Hi {{customer.first_name|there}}, thanks for writing to us about {name}. You asked: "
            f"“{first_request}” [[the answer]] Best, {{me.first_name}}")
    return name, text


def best_cosine(own: np.ndarray, examples: list[list[np.ndarray]], query: np.ndarray) -> np.ndarray:
    score = own @ query
    for i, rows in enumerate(examples):
        if rows:
            score[i] = max(score[i], float((np.stack(rows) @ query).max()))
    return score


def evaluate(embedder, categories: list[str], texts: list[str], queries, learn: bool,
             scoring: str) -> tuple[float, float]:
    own = embedder.embed(texts)
    index = reply_index(embedder.name, own) if scoring == "index" else None
    examples: list[list[np.ndarray]] = [[] for _ in categories]
    position = {category: i for i, category in enumerate(categories)}
    first = among = 0
    for text, category in queries:
        query = embedder.embed([text])[0]
        if index is not None:
            offered = [i for i, _ in index.similar_to(query, 3)]
        else:
            score = best_cosine(own, examples, query)
            offered = [int(i) for i in np.lexsort((np.arange(len(score)), -score))[:3]]
        right = position[category]
        first += bool(offered) and offered[0] == right
        among += right in offered
        if learn and right in offered:  # chosen and sent: the message joins the reply's examples
            if index is not None:
                index.add_many([(right, text)], vectors=query[None, :])
            else:
                examples[right].append(query)
    n = max(len(queries), 1)
    return round(first / n, 4), round(among / n, 4)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="text,category CSV (default: banking77 test)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scoring", choices=("index", "best"), default="index")
    args = p.parse_args()
    if not args.csv.exists():
        sys.exit(f"bench/saved_replies.py: no such CSV: {args.csv}")
    started = time.perf_counter()
    firsts, queries = split(read_rows(args.csv), 1, args.seed)
    categories = [category for _, category in firsts]
    texts = [match_text(*saved_reply(category, request)) for request, category in firsts]
    embedder = Remembered(LocalEmbedder(), texts + [text for text, _ in queries])
    first, among = evaluate(embedder, categories, texts, queries, False, args.scoring)
    first_learning, among_learning = evaluate(embedder, categories, texts, queries, True, args.scoring)
    print(json.dumps({
        "model": embedder.name, "scoring": args.scoring,
        "first": first, "among_three": among, "first_learning": first_learning,
        "among_three_learning": among_learning, "aim_among_three": 0.9,
        "replies": len(categories), "queries": len(queries), "seed": args.seed, "csv": args.csv.name,
        "seconds": round(time.perf_counter() - started, 2),
    }))


if __name__ == "__main__":
    main()
