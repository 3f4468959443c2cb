"""Claim latency: how fast Pitchin acknowledges a Claim click, against a bare Bolt app in the same run.

What runs where
    Pitchin runs in its own process (``python -m bot serve``, configured by environment variables,
    exactly as intake_throughput.py starts it). The baseline, ``bench/_bare_bolt.py``, is a bare
    Bolt ``AsyncApp`` (same signing secret and bot token, ``AsyncWebClient(base_url=fake.url)``,
    one no-op listener ``async def l(ack): await ack()`` on ``ticket.claim``), served by aiohttp the
    way bot/web.py serves Bolt (``to_bolt_request`` / ``async_dispatch`` / ``to_aiohttp_response``),
    also in its own process. This process runs the clicking client, the fake Slack Web API and the
    SMTP sink, on 127.0.0.1.

What is measured
    ``--clicks`` tickets are created through ``POST /intake/email`` first and the benchmark waits
    until each is posted to the fake channel (its ``ts`` is what a click refers to). Then each
    click is a signed ``block_actions`` POST to ``/slack/events`` (``block_action_body`` + ``sign``
    from tests/fakes/slack_api.py, built and signed before the clock starts), by one of 10 users, on
    a ticket nobody has claimed. The figure is the HTTP round trip until the 200 (Bolt's ack) came
    back. Clicks are sequential, one at a time, and interleaved: a click on Pitchin, then one on the
    bare app, and so on, so both see the same machine. After each Pitchin click the benchmark waits
    for the click's effects (the ephemeral answer on its response_url, the ``chat.update`` of the
    card) before the next click, so every click meets an idle server: this is latency, not
    throughput. Both servers are warmed up first (``--warmup`` clicks each, not counted).

    Extra fields: ``pitchin_respond_p50_ms``/``p99`` (click until the "You claimed #n" answer
    reached the response_url), ``pitchin_update_p50_ms``/``p99`` (click until the card's
    chat.update reached Slack), ``claims_won`` (measured clicks answered "You claimed": proof the
    clicks really ran the claim), ``load_1m`` (load average before the clicks).
    ``--no-settle`` clicks again as soon as the previous ack is back (Pitchin's after-ack work
    then overlaps the next click; the respond/update fields are left out).

    Both servers ack about 10 ms after the request arrives at best: Bolt's asyncio listener runner
    (slack_bolt/listener/asyncio_runner.py) polls for ``ack()`` with ``asyncio.sleep(0.01)``.

    python bench/claim_latency.py [--clicks 500] [--warmup 50] [--db sqlite|postgres]
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

from tests.fakes.slack_api import FakeSlackApi, block_action_body, sign  # noqa: E402
from tests.fakes.smtp import SmtpSink  # noqa: E402

ACTION = "ticket.claim"
USERS = [f"UBENCH{i:02d}" for i in range(10)]


class Effects:
    """When the fake received each click's response_url post and each card's chat.update."""

    def __init__(self, fake: FakeSlackApi):
        self.responses: dict[str, float] = {}  # response path → when
        self.updates: dict[str, float] = {}  # message ts → when (first update)
        self.won: set[str] = set()  # response paths answered "You claimed #n": the click ran the claim
        self._changed = asyncio.Event()
        original = fake._record

        def record(call):
            original(call)
            now = time.perf_counter()
            if call.method == "response_url":
                self.responses.setdefault(call.path, now)
                if str(call.args.get("text", "")).startswith("You claimed"):
                    self.won.add(call.path)
            elif call.method == "chat.update":
                self.updates.setdefault(str(call.args.get("ts")), now)
            self._changed.set()

        fake._record = record  # the fake calls self._record: an instance attribute wins

    async def wait(self, response_path: str, ts: str, timeout: float = 10) -> bool:
        deadline = time.perf_counter() + timeout
        while response_path not in self.responses or ts not in self.updates:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.1))
            except asyncio.TimeoutError:
                pass
        return True


def signed_click(fake: FakeSlackApi, ticket_id: int, ts: str, user: str, response_id: str) -> tuple[bytes, dict]:
    body = block_action_body(ACTION, str(ticket_id), user, c.CHANNEL, ts, fake.url_for_response(response_id))
    headers = sign(c.SECRET, body, content_type="application/x-www-form-urlencoded")
    return body.encode(), headers


async def click(http: aiohttp.ClientSession, base: str, body: bytes, headers: dict) -> float:
    started = time.perf_counter()
    async with http.post(f"{base}/slack/events", data=body, headers=headers) as resp:
        await resp.read()
        status = resp.status
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"click answered HTTP {status}")
    return elapsed


async def create_tickets(app: c.AppProcess, posts: c.TicketPosts, count: int, run: str) -> list[tuple[int, str]]:
    """``count`` new tickets through intake; (ticket id, root message ts) once each is posted."""
    headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {c.INTAKE_TOKEN}"}
    sem = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as http:

        async def one(i: int) -> None:
            async with sem, http.post(f"{app.base}/intake/email", data=c.bench_mail(i, run), headers=headers) as r:
                if r.status != 202:
                    raise RuntimeError(f"intake answered {r.status}: {await r.text()}")

        await asyncio.gather(*(one(i) for i in range(count)))
    if not await posts.wait_for(count, 120):
        raise RuntimeError(f"only {posts.count} of {count} tickets were posted:\n{app.log_tail()}")
    return [(c.ticket_id_of(m), m["ts"]) for m in posts.roots[:count]]


async def measure(clicks: int, warmup: int, db: str, pg_url: str, settle: bool = True) -> dict:
    run = uuid.uuid4().hex[:8]
    with c.workdir("pitchin-bench-claim-") as tmp:
        workdir = Path(tmp)
        with c.Database(db, pg_url, workdir) as database_url:
            fake = await FakeSlackApi(check_contract=False).start()
            posts = c.TicketPosts(fake)
            effects = Effects(fake)
            smtp = SmtpSink().start()
            pitchin = c.pitchin_process(database_url, fake.url, smtp.url, workdir)
            bare = c.bare_bolt_process(fake.url, ACTION, workdir)
            try:
                await asyncio.gather(pitchin.start(), bare.start())
                tickets = await create_tickets(pitchin, posts, warmup + clicks, run)
                load_1m = os.getloadavg()[0]
                p_ack, b_ack, p_respond, p_update = [], [], [], []
                missing = 0
                measured: list[str] = []
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as p_http, \
                        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as b_http:
                    for n, (ticket_id, ts) in enumerate(tickets):
                        user = USERS[n % len(USERS)]
                        rid = f"claim-{run}-{n}"
                        p_body, p_headers = signed_click(fake, ticket_id, ts, user, rid)
                        b_body, b_headers = signed_click(fake, ticket_id, ts, user, f"bare-{run}-{n}")
                        started = time.perf_counter()
                        ack = await click(p_http, pitchin.base, p_body, p_headers)
                        done = await effects.wait(f"/response/{rid}", ts) if settle else False
                        bare_ack = await click(b_http, bare.base, b_body, b_headers)
                        if n < warmup:
                            continue
                        measured.append(f"/response/{rid}")
                        p_ack.append(ack)
                        b_ack.append(bare_ack)
                        if done:
                            p_respond.append(effects.responses[f"/response/{rid}"] - started)
                            p_update.append(effects.updates[ts] - started)
                        elif settle:
                            missing += 1
            finally:
                await asyncio.gather(pitchin.stop(), bare.stop())
                smtp.stop()
                await fake.stop()

    def ms(values, p):
        return round(c.percentile(values, p) * 1000, 2)

    result = {
        "bench": "claim_latency",
        "clicks": clicks,
        "pitchin_p50_ms": ms(p_ack, 50),
        "pitchin_p99_ms": ms(p_ack, 99),
        "bare_bolt_p50_ms": ms(b_ack, 50),
        "bare_bolt_p99_ms": ms(b_ack, 99),
        "p99_ratio": round(c.percentile(p_ack, 99) / c.percentile(b_ack, 99), 2),
        "db": db,
        "settle": settle,
        "claims_won": len(effects.won.intersection(measured)),
        "load_1m": round(load_1m, 2),
    }
    if p_respond:
        result.update({
            "pitchin_respond_p50_ms": ms(p_respond, 50),
            "pitchin_respond_p99_ms": ms(p_respond, 99),
            "pitchin_update_p50_ms": ms(p_update, 50),
            "pitchin_update_p99_ms": ms(p_update, 99),
        })
    if missing:
        result["effects_missing"] = missing
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50, help="uncounted clicks on each server first")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=c.DEFAULT_PG_URL)
    parser.add_argument("--no-settle", action="store_true",
                        help="click again as soon as the previous ack came back, without waiting for its effects")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.clicks, args.warmup, args.db, args.pg_url, settle=not args.no_settle))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
