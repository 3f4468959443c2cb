"""Message vectors: how fast the leader's rounds embed customer texts, what a round costs when there
is nothing to do, and how fast a briefing reads a week of stored vectors.

What is measured (one JSON line per database)
    ``fill_texts_per_second``: ``--texts`` customer messages (the file's texts, one new ticket each)
    embedded and stored by ``handlers.message_vectors.fill_missing`` rounds of 256 until none is
    missing, the model loaded beforehand (a history to fill after an upgrade; new mail is the same
    work a few texts at a time).
    ``idle_round_ms``: one round that finds nothing missing, with ``--stored`` + ``--texts`` messages
    stored (what the leader pays every 30 s and after each intake).
    ``week_items_seconds``: ``week_items`` reading ``--stored`` messages of one week with their
    stored vectors (random unit vectors, stored as the product stores them: embedding them here
    would take a minute and measure the model again).

    python bench/message_vectors.py [--csv PATH] [--texts 1000] [--stored 10000] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import DEFAULT_PG_URL, Database as FreshDatabase, workdir  # noqa: E402
from handlers.context import Context  # noqa: E402
from handlers.message_vectors import MESSAGE, encode, fill_missing, week_items  # noqa: E402
from handlers.similarity import LocalEmbedder  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import MessageVector, Ticket, TicketMessage  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "banking77" / "test.csv"


def read_texts(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def store_tickets(db: Database, texts: list[str], at: datetime, first_id: int) -> list[int]:
    """One new ticket a text, each with its customer message; the messages' ids."""
    tickets = [{"id": first_id + i, "subject": "", "customer_email": f"c{first_id + i}@example.com",
                "customer_name": "", "source": "email", "status": "open", "created_at": at, "updated_at": at,
                "last_customer_at": at}
               for i in range(len(texts))]
    messages = [{"id": first_id + i, "ticket_id": first_id + i, "kind": "customer", "text": text,
                 "external_key": f"email:<{first_id + i}@bench>", "attachments": [], "dmarc_failed": False,
                 "created_at": at}
                for i, text in enumerate(texts)]
    with db.transaction() as session:
        session.execute(Ticket.__table__.insert(), tickets)
        session.execute(TicketMessage.__table__.insert(), messages)
    return [m["id"] for m in messages]


def run(kind: str, pg_url: str, texts: list[str], stored: int) -> dict:
    with workdir("pitchin-vectors-") as tmp, FreshDatabase(kind, pg_url, Path(tmp)) as url:
        db = Database(url)
        db.upgrade()
        ctx = Context(db=db)
        now = datetime.now(timezone.utc)
        model = LocalEmbedder()
        model.load()

        # a week of stored vectors, as the rounds would have left them
        rng = np.random.default_rng(0)
        week = [texts[i % len(texts)] for i in range(stored)]
        ids = store_tickets(db, week, now - timedelta(days=3), 1)
        vectors = rng.normal(size=(stored, model.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with db.transaction() as session:
            session.execute(MessageVector.__table__.insert(),
                            [{"kind": MESSAGE, "ref_id": i, "model": model.name, "vector": encode(v), "created_at": now}
                             for i, v in zip(ids, vectors)])

        # the history to fill
        store_tickets(db, texts, now - timedelta(days=1), stored + 1)
        started = time.perf_counter()
        filled = 0
        while True:
            done = fill_missing(ctx)
            filled += done.messages
            if not done.more:
                break
        fill_seconds = time.perf_counter() - started
        assert filled == len(texts), (filled, len(texts))

        idle = []
        for _ in range(5):
            started = time.perf_counter()
            assert fill_missing(ctx).messages == 0
            idle.append(time.perf_counter() - started)

        reads = []
        for _ in range(3):
            started = time.perf_counter()
            with db.transaction(read_only=True) as session:
                items = week_items(session, now - timedelta(days=7), now - timedelta(days=2), model.name)
            reads.append(time.perf_counter() - started)
        assert len(items) == stored, len(items)
        db.dispose()
    return {"bench": "message_vectors", "db": kind, "texts": len(texts), "fill_seconds": round(fill_seconds, 2),
            "fill_texts_per_second": round(len(texts) / fill_seconds, 1), "messages_stored": stored + len(texts),
            "idle_round_ms": round(1000 * min(idle), 1), "week_items": stored,
            "week_items_seconds": round(min(reads), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--stored", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    texts = read_texts(args.csv)
    texts = [texts[i % len(texts)] for i in range(args.texts)]
    for kind in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        print(json.dumps(run(kind, args.pg_url, texts, args.stored)), flush=True)


if __name__ == "__main__":
    main()
