"""The baseline for claim_latency: a bare Bolt AsyncApp with one no-op action listener, served by
aiohttp the way Pitchin serves Bolt (bot/slack/http.py: slack_http_handler, bot/app.py: AppRunner without
access log). Run as its own process, like ``python -m bot serve``:

    python bench/_bare_bolt.py --port 3001 --api-url http://127.0.0.1:PORT/api/ --secret S --token xoxb-…
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build(args) -> web.Application:
    bolt = AsyncApp(client=AsyncWebClient(token=args.token, base_url=args.api_url), signing_secret=args.secret)

    async def listener(ack):
        await ack()

    bolt.action(args.action)(listener)

    async def handle(request: web.Request) -> web.StreamResponse:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    app = web.Application(client_max_size=11 * 1024 * 1024)  # as bot/web.py
    app.router.add_post("/slack/events", handle)
    return app


async def main(args) -> None:
    runner = web.AppRunner(build(args), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--action", default="ticket.claim")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # as bot/cli.py
    asyncio.run(main(parser.parse_args()))
