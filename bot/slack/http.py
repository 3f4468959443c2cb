"""POST /slack/events: the size, Slack's signature and the JSON are checked here, before Bolt
parses anything. Bolt parses the body before its own signature check (100,000 nested brackets
were a RecursionError and a 500), and logs the whole body of a request it refuses (11 MB a line)."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.request_body import MAX_JSON_BYTES, parse_json, read_or_refuse
from bot.web import error

log = logging.getLogger("pitchin.slack")

SLACK_MAX_AGE = 5 * 60  # seconds; Slack's own rule against replays


def slack_http_handler(bolt_app, signing_secret: str):
    """The aiohttp handler of /slack/events for ``bolt_app`` (Bolt keeps its own signature check too)."""
    verifier = SignatureVerifier(signing_secret)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await read_or_refuse(request, MAX_JSON_BYTES)
        if isinstance(body, web.Response):
            return body
        if _is_ssl_check(body):
            return web.Response(status=200)  # Bolt answers Slack's certificate check before any signature too
        refused = _slack_signature_problem(verifier, body, request.headers)
        if refused:
            log.info("refused /slack/events: %s", refused.split(":")[0])
            return error(401, refused)
        try:
            text = body.decode("utf-8")
            _check_slack_json(text, request.content_type)
        except ValueError as exc:  # signed, so Slack's own request, yet unreadable
            return error(400, f"{exc}: Slack sends JSON or a form with a JSON 'payload'.")
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=request.headers)
        bolt_response = await bolt_app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return handle


def _slack_signature_problem(verifier, body: bytes, headers) -> str | None:
    signature = headers.get("X-Slack-Signature", "")
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    if not signature or not timestamp:
        return ("Missing Slack signature: /slack/events takes only requests Slack signed with the app's signing "
                "secret (X-Slack-Signature and X-Slack-Request-Timestamp).")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SLACK_MAX_AGE:
        return ("Stale Slack request: its timestamp is more than 5 minutes from this server's clock "
                "(a replay, or a clock that needs setting).")
    if not verifier.is_valid(body, timestamp, signature):
        return "Forged Slack request: the signature does not match SLACK_SIGNING_SECRET."
    return None


def _is_ssl_check(body: bytes) -> bool:
    return len(body) < 1024 and parse_qs(body.decode("utf-8", "replace")).get("ssl_check") == ["1"]


def _check_slack_json(text: str, content_type: str) -> None:
    """The JSON Bolt will parse (the same choice as its parse_body), checked first: ValueError if unusable."""
    if content_type == "application/json" or text.startswith("{"):
        parse_json(text)
    elif "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            parse_json(payload)
