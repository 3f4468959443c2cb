"""Reading a request's body before anyone is trusted: a size limit counted as it arrives (chunked
bodies have no Content-Length), a deadline for the whole body, and JSON that cannot nest deeply."""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from bot.http_guard import limits_of

log = logging.getLogger("pitchin.web")

MAX_JSON_BYTES = 1024 * 1024  # web-form messages, and Slack's and Teams' requests
# deeper than any activity, Slack payload or web-form message; deep enough to keep botbuilder's
# and Bolt's recursive walks far from Python's recursion limit
MAX_JSON_DEPTH = 100


class Refused(Exception):
    """A request refused before it was understood: the HTTP status and a reason for the sender."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes, arrived within the server's body timeout;
    otherwise Refused (413 too large, 408 too slow)."""
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, f"Message too large: {request.content_length} bytes; the limit is {_megabytes(limit)}.")
    timeout = limits_of(request.app).body_timeout
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_chunked(65536):
                size += len(chunk)
                if size > limit:
                    raise Refused(413, f"Message too large: over {_megabytes(limit)}.")
                chunks.append(chunk)
    except TimeoutError:
        raise Refused(408, f"The request's body did not arrive within {timeout:g} s.") from None
    return b"".join(chunks)


async def read_or_refuse(request: web.Request, limit: int) -> bytes | web.Response:
    """The body, or the JSON response that refuses it, logged in one short line."""
    try:
        return await read_body(request, limit)
    except Refused as refused:
        log.info("refused %s: %s", request.path, refused.reason)
        return web.json_response({"error": refused.reason}, status=refused.status)


def parse_json(body: bytes | str) -> object:
    """JSON data, or ValueError saying what is wrong (never RecursionError, whatever the nesting)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        data = json.loads(text)
    except RecursionError:  # the C parser's own limit: thousands of [ or {
        raise ValueError(f"Malformed JSON (nested deeper than {MAX_JSON_DEPTH} levels)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"Malformed JSON ({exc})") from None
    if _deeper_than(data, MAX_JSON_DEPTH):
        raise ValueError(f"Malformed JSON (nested deeper than {MAX_JSON_DEPTH} levels)")
    return data


def _deeper_than(data: object, limit: int) -> bool:
    pending = [(data, 1)]  # a loop, not recursion: this is what guards against recursion
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
