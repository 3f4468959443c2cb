"""Weekly briefing quality: does the grouping find a week's real top three customer issues?

What is measured (issue 12, "What must be shown", word for word)
    Rows ``text,category`` (default: banking77's 3,080 test queries, 77 intents, from shared/
    beside this repository). ``rng = random.Random(seed)``; categories sorted; each week
    ``rng.sample(categories, 20)`` gives 20 categories in rank order, rank r (1–20) gets
    ``max(2, round(30 / r ** 0.8))`` messages ``rng.sample(its texts in file order, min(n, available))``,
    the week's messages are shuffled with ``rng``, each from a different customer. The briefing code
    (``handlers.issue_groups.top_issues``, the function the product calls, given no labels, centred
    as the product centres a week: on the mean of earlier customer messages, here the file's texts
    outside the week) returns
    three issues; the week is right when their majority categories are three distinct categories of
    the true top three (a category tied in count with the third counts).

    ``weeks_right`` of ``weeks``; ``seconds_per_week``: mean time of one ``top_issues`` call.
    ``seconds_10000``: one briefing over 10,000 messages of one week (vectors stored, as in the
    product): texts of the file drawn with ``random.Random(seed)``, with replacement, in a week where
    20 categories carry most of the traffic, from 6,000 customers (some write twice).
    ``seconds_10000_stored``: the product's whole briefing (``handlers.briefing_compose.compose``:
    vectors read from a SQLite file, grouping, last week's figures, quotes, cards, answers) over
    10,000 new tickets of the week and 10,000 of the week before.
    With ``--full``: the whole file grouped without labels (``group_messages``: average linkage on
    the centred vectors at the weekly radius, for a whole history rather than a week's top three)
    and scored against the categories: ``nmi`` (arithmetic normalisation, as scikit-learn's
    default and the TEXTOIR benchmark), ``ari``, ``clusters`` (groups found, singletons included).

    Every text is embedded once with the local model (all-MiniLM-L6-v2, int8, offline) and the
    vectors are cached in bench/results/ (keyed by the file's sha256 and the model): reruns skip it.

    python bench/briefing.py [--csv PATH] [--weeks 50] [--seed 0] [--full]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.issue_groups import group_messages, top_issues  # noqa: E402
from handlers.similarity import LocalEmbedder  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "banking77" / "test.csv"
RESULTS = ROOT / "bench" / "results"
RANKS = 20
BIG_WEEK = 10_000


def read_rows(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["text"], row["category"]) for row in csv.DictReader(f)]


def vectors_for(path: Path, texts: list[str]) -> np.ndarray:
    """One row per text from the local model, cached in bench/results/ by file content and model."""
    embedder = LocalEmbedder()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    model = "".join(c if c.isalnum() else "-" for c in embedder.name)
    cache = RESULTS / f"briefing-vectors-{path.stem}-{digest}-{model}.npy"
    if cache.exists():
        vectors = np.load(cache)
        if len(vectors) == len(texts):
            return vectors
    vectors = embedder.embed(texts)
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def weeks_of(rows: list[tuple[str, str]], weeks: int, seed: int):
    """Each week: (row indexes in the week's order, their categories), by the issue's protocol."""
    rng = random.Random(seed)
    by_category: dict[str, list[int]] = {}
    for index, (_, category) in enumerate(rows):
        by_category.setdefault(category, []).append(index)  # file order
    categories = sorted(by_category)
    if len(categories) < RANKS:
        sys.exit(f"bench/briefing.py: the CSV has {len(categories)} categories; a week needs {RANKS}")
    for _ in range(weeks):
        week: list[int] = []
        for rank, category in enumerate(rng.sample(categories, RANKS), start=1):
            n = max(2, round(30 / rank ** 0.8))
            texts = by_category[category]
            week += rng.sample(texts, min(n, len(texts)))
        rng.shuffle(week)
        yield week, [rows[i][1] for i in week]


def week_is_right(issues, categories: list[str]) -> bool:
    """Three issues whose majority categories are three distinct categories of the true top three
    (any category with as many messages as the third counts)."""
    counts = Counter(categories)
    third = sorted(counts.values(), reverse=True)[2]
    top = {c for c, n in counts.items() if n >= third}
    found = [Counter(categories[m] for m in issue.members).most_common(1)[0][0] for issue in issues]
    return len(found) == 3 and len(set(found)) == 3 and set(found) <= top


def nmi_ari(labels: list[str], groups: np.ndarray) -> tuple[float, float]:
    """Normalised mutual information (arithmetic mean of the entropies) and adjusted Rand index."""
    _, truth = np.unique(np.asarray(labels), return_inverse=True)
    _, found = np.unique(groups, return_inverse=True)
    table = np.zeros((truth.max() + 1, found.max() + 1))
    np.add.at(table, (truth, found), 1)
    n = table.sum()
    a, b = table.sum(1), table.sum(0)
    nz = table > 0
    mi = float((table[nz] / n * np.log(table[nz] * n / np.outer(a, b)[nz])).sum())
    h = lambda p: float(-(p[p > 0] / n * np.log(p[p > 0] / n)).sum())  # noqa: E731
    nmi = mi / ((h(a) + h(b)) / 2) if h(a) + h(b) > 0 else 1.0
    pairs = lambda x: float((x * (x - 1) / 2).sum())  # noqa: E731
    index, rows, cols = pairs(table), pairs(a), pairs(b)
    expected = rows * cols / (n * (n - 1) / 2)
    ari = (index - expected) / ((rows + cols) / 2 - expected)
    return nmi, ari


def time_big_week(vectors: np.ndarray, rows: list[tuple[str, str]], seed: int) -> float:
    """Seconds for one briefing over 10,000 messages of one week (vectors already stored)."""
    rng = random.Random(seed)
    categories = sorted({category for _, category in rows})
    loud = set(rng.sample(categories, RANKS))
    weights = [20.0 if category in loud else 1.0 for _, category in rows]
    picked = rng.choices(range(len(rows)), weights=weights, k=BIG_WEEK)
    customers = [f"customer-{rng.randrange(6000)}" for _ in picked]
    week = vectors[picked]
    started = time.perf_counter()
    top_issues(week, customers, k=3, centre=vectors.mean(axis=0))
    return time.perf_counter() - started


def _big_week_rows(rows, seed: int, salt: str) -> tuple[list[int], list[str]]:
    rng = random.Random(f"{seed}:{salt}")
    categories = sorted({category for _, category in rows})
    loud = set(rng.sample(categories, RANKS))
    weights = [20.0 if category in loud else 1.0 for _, category in rows]
    picked = rng.choices(range(len(rows)), weights=weights, k=BIG_WEEK)
    return picked, [f"customer-{rng.randrange(6000)}@example.com" for _ in picked]


def time_stored_briefing(vectors: np.ndarray, rows: list[tuple[str, str]], seed: int) -> float:
    """Seconds for the product's whole briefing (handlers.briefing_compose.compose: the stored
    vectors read from the database, the week grouped, last week's figures, quotes, cards, answered
    counts) over 10,000 new tickets of one week and 10,000 of the week before, in a SQLite file."""
    import tempfile
    from datetime import datetime, timedelta, timezone

    from handlers.briefing_compose import compose
    from handlers.context import Context
    from handlers.departments import model_name
    from handlers.message_vectors import MESSAGE, encode
    from storage.db import Database
    from storage.models import MessageVector, Ticket, TicketMessage

    until = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.db")
        db.upgrade()
        ctx = Context(db=db)
        model = model_name(ctx)
        tickets, messages, stored = [], [], []
        for week, salt in ((1, "this"), (2, "last")):
            picked, customers = _big_week_rows(rows, seed, salt)
            start = until - timedelta(days=7 * week)
            for n, (row, customer) in enumerate(zip(picked, customers)):
                number = len(tickets) + 1
                at = start + timedelta(seconds=n * 60)
                tickets.append({"id": number, "subject": "", "customer_email": customer, "customer_name": "Sam",
                                "created_at": at, "updated_at": at, "last_customer_at": at})
                messages.append({"id": number, "ticket_id": number, "kind": "customer", "text": rows[row][0],
                                 "created_at": at})
                stored.append({"kind": MESSAGE, "ref_id": number, "model": model, "vector": encode(vectors[row]),
                               "created_at": at})
        with db.transaction() as session:
            session.execute(Ticket.__table__.insert(), tickets)
            session.execute(TicketMessage.__table__.insert(), messages)
            session.execute(MessageVector.__table__.insert(), stored)
        with db.transaction(read_only=True) as session:
            started = time.perf_counter()
            briefing = compose(ctx, session, None, until - timedelta(days=7), until, store=False)
            spent = time.perf_counter() - started
        db.dispose()
    if len(briefing.issues) != 3:
        sys.exit(f"bench/briefing.py: the stored briefing showed {len(briefing.issues)} issues, not 3")
    return spent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="text,category CSV (default: banking77 test)")
    p.add_argument("--weeks", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full", action="store_true", help="also group the whole file: nmi, ari, clusters")
    args = p.parse_args()
    if not args.csv.exists():
        sys.exit(f"bench/briefing.py: no such CSV: {args.csv} (rows text,category)")
    rows = read_rows(args.csv)
    vectors = vectors_for(args.csv, [text for text, _ in rows])
    right, spent = 0, 0.0
    total = vectors.sum(axis=0)
    for week, categories in weeks_of(rows, args.weeks, args.seed):
        customers = [f"customer-{n}" for n in range(len(week))]  # each message from a different customer
        # as the product does: centred on what customers wrote before the week (here: the file's
        # other texts; the product reads the 90 days before, at most 2,000 vectors)
        earlier = (total - vectors[week].sum(axis=0)) / (len(vectors) - len(week))
        started = time.perf_counter()
        issues = top_issues(vectors[week], customers, k=3, centre=earlier)
        spent += time.perf_counter() - started
        right += week_is_right(issues, categories)
    result = {"weeks": args.weeks, "weeks_right": right,
              "seconds_per_week": round(spent / max(args.weeks, 1), 4),
              "seconds_10000": round(time_big_week(vectors, rows, args.seed), 2),
              "seconds_10000_stored": round(time_stored_briefing(vectors, rows, args.seed), 2),
              "seed": args.seed, "csv": args.csv.name, "messages": len(rows)}
    if args.full:
        try:
            groups = group_messages(vectors)
        except ValueError as exc:
            sys.exit(f"bench/briefing.py: --full: {exc}")
        nmi, ari = nmi_ari([category for _, category in rows], groups)
        result.update({"nmi": round(nmi, 4), "ari": round(ari, 4), "clusters": int(len(np.unique(groups))),
                       "categories": len({category for _, category in rows})})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
