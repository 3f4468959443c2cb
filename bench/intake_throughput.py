"""Intake throughput: customer emails per second, from ``POST /intake/email`` until the ticket's
card is on the (fake) Slack support channel.

What runs where
    Pitchin runs as in production, in its own process: ``python -m bot serve`` (web server,
    delivery worker and scheduler in one process), configured only through its environment
    variables (DATABASE_URL, PORT, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL,
    PITCHIN_SUPPORT_CHANNEL, PITCHIN_INTAKE_TOKEN, SMTP_URL, PITCHIN_FROM_EMAIL), in a temp
    directory (no stray .env). This process runs the load generator (an aiohttp client with
    ``--concurrency`` connections), the fake Slack Web API (tests/fakes/slack_api.py, contract
    checking off so the fake stays cheap) and the SMTP sink (tests/fakes/smtp.py), all on 127.0.0.1.

What is measured
    ``--messages`` raw RFC 822 mails, each a new ticket (distinct Message-ID and sender), POSTed
    with the bearer token by ``--concurrency`` clients at once, as fast as Pitchin answers.
    ``seconds`` runs from the first POST to the moment the fake answered the last ticket's
    ``chat.postMessage`` to the support channel (no ``thread_ts``, ok), so it covers intake,
    the outbox, the delivery worker and the Slack call. ``intake_p50_ms``/``intake_p99_ms`` are
    the HTTP round trips of the POSTs (202 Accepted) as the client saw them. A few warm-up mails
    (``--warmup``) go first and are not counted. Extra fields: ``intake_seconds`` (first POST to
    last 202), ``posted_by_intake_end`` (tickets already on the channel at the last 202: how far
    the delivery worker lags behind a burst), ``posted`` (root posts seen by the deadline),
    ``errors`` (non-202 answers), ``load_1m`` (the machine's load average when the burst started:
    other work on the machine skews the figures).

    python bench/intake_throughput.py [--messages 2000] [--concurrency 16] [--db sqlite|postgres|both]
                                      [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402  (puts the repository root on sys.path)
import aiohttp  # noqa: E402

from tests.fakes.slack_api import FakeSlackApi  # noqa: E402
from tests.fakes.smtp import SmtpSink  # noqa: E402


async def post_all(base: str, mails: list[bytes], concurrency: int) -> tuple[list[float], list[int], float, float]:
    """POST every mail with ``concurrency`` clients; (latencies s, bad statuses, first start, last end)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for m in mails:
        queue.put_nowait(m)
    latencies: list[float] = []
    bad: list[int] = []
    headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {c.INTAKE_TOKEN}"}
    url = f"{base}/intake/email"
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    first = last = 0.0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def client() -> None:
            nonlocal last
            while True:
                try:
                    mail = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    async with http.post(url, data=mail, headers=headers) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    status = 0
                ended = time.perf_counter()
                latencies.append(ended - started)
                last = max(last, ended)
                if status != 202:
                    bad.append(status)

        first = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, bad, first, last


async def run_one(db: str, messages: int, concurrency: int, pg_url: str, warmup: int, deadline: float) -> dict:
    run = uuid.uuid4().hex[:8]
    with c.workdir(f"pitchin-bench-{db}-") as tmp:
        workdir = Path(tmp)
        with c.Database(db, pg_url, workdir) as database_url:
            fake = await FakeSlackApi(check_contract=False).start()
            posts = c.TicketPosts(fake)
            smtp = SmtpSink().start()
            app = c.pitchin_process(database_url, fake.url, smtp.url, workdir)
            try:
                await app.start()
                if warmup:
                    _, bad, _, _ = await post_all(app.base, [c.bench_mail(-i - 1, run) for i in range(warmup)],
                                                  min(concurrency, warmup))
                    if bad or not await posts.wait_for(warmup, 60):
                        raise RuntimeError(f"warm-up failed (statuses {bad[:5]}, posted {posts.count}):\n"
                                           f"{app.log_tail()}")
                before = posts.count
                mails = [c.bench_mail(i, run) for i in range(messages)]
                load_1m = os.getloadavg()[0]
                latencies, bad, first, last = await post_all(app.base, mails, concurrency)
                posted_by_intake_end = posts.count - before
                complete = await posts.wait_for(before + messages, deadline)
                posted = posts.count - before
                end = posts.times[-1] if posted else last
            finally:
                await app.stop()
                smtp.stop()
                await fake.stop()
    seconds = end - first
    result = {
        "bench": "intake_throughput",
        "db": db,
        "messages": messages,
        "seconds": round(seconds, 3),
        "messages_per_second": round(posted / seconds, 1) if seconds > 0 else None,
        "intake_p50_ms": round(c.percentile(latencies, 50) * 1000, 2),
        "intake_p99_ms": round(c.percentile(latencies, 99) * 1000, 2),
        "intake_seconds": round(last - first, 3),
        "posted_by_intake_end": posted_by_intake_end,
        "posted": posted,
        "errors": len(bad),
        "concurrency": concurrency,
        "load_1m": round(load_1m, 2),
    }
    if not complete:
        result["incomplete"] = f"only {posted} of {messages} tickets were posted within {deadline:g} s"
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=c.DEFAULT_PG_URL)
    parser.add_argument("--warmup", type=int, default=20, help="uncounted mails sent first")
    parser.add_argument("--deadline", type=float, default=120.0,
                        help="seconds to wait, after the last 202, for the last ticket to be posted")
    args = parser.parse_args(argv)
    dbs = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    for db in dbs:
        result = asyncio.run(run_one(db, args.messages, args.concurrency, args.pg_url, args.warmup, args.deadline))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
