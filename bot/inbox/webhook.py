"""Answers to web-form tickets: POST signed JSON to the ticket's reply URL.

The body is compact JSON with sorted keys; ``X-Pitchin-Signature`` is ``sha256=<hex>`` of an
HMAC-SHA256 over the exact body bytes with the shared secret (see ``sign_body``), and
``X-Pitchin-Delivery`` carries the reply's Message-ID so a receiver can drop duplicates when
a delivery is retried.

Where a reply may go is ``bot.inbox.addresses``' policy, applied when a web form hands in a
reply URL (``screen``) and again to the addresses actually connected to (``CheckedResolver``).
Nothing a receiver answers reaches chat but its status code: a reply URL must not become a way
to read another server's pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import aiohttp
from aiohttp.abc import AbstractResolver

from bot.inbox.addresses import AllowList, Refused, check_addresses, check_url, literal_address
from bot.inbox.lookup import CheckedResolver, PoolResolver
from bot.one_line import one_line
from handlers.base import DeliveryError, OutgoingReply

__all__ = ["WebhookChannel", "Unsigned", "sign_body", "reply_payload"]

log = logging.getLogger("pitchin.webhook")

SIGNATURE_HEADER = "X-Pitchin-Signature"
DELIVERY_HEADER = "X-Pitchin-Delivery"


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-Pitchin-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256(secret, body)>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def reply_payload(reply: OutgoingReply) -> bytes:
    """The exact bytes POSTed for ``reply`` (compact JSON, sorted keys, UTF-8)."""
    payload = {
        "ticket_id": reply.ticket_id,
        "reply_id": reply.reply_id,
        "external_id": reply.external_id,
        "to": reply.to_email,
        "subject": reply.subject,
        "text": reply.text,
        "author": reply.author_name,
        "message_id": reply.message_id,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)



def _status(status: int) -> str:
    """``HTTP 503 Service Unavailable``: the standard phrase, not the receiver's own words."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


class Unsigned(Exception):
    """Replies cannot be signed: PITCHIN_WEBHOOK_SECRET is not set (the server's fault, not the form's)."""


class WebhookChannel:
    """POST replies to the ``reply_url`` a web form gave (implements ``CustomerChannel``), and
    check a new reply URL at intake (``screen``)."""

    def __init__(self, secret: str, allow: AllowList = AllowList(), timeout: float = 15,
                 resolver: AbstractResolver | None = None, lookup_timeout: float = 1.0):
        self.secret = secret
        self.allow = allow
        self.timeout = timeout
        self.lookup_timeout = lookup_timeout
        self._own_resolver = resolver is None
        self.resolver = resolver if resolver is not None else PoolResolver()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session belongs to one event loop; a new loop (a restarted app) gets a new one.
            connector = aiohttp.TCPConnector(resolver=CheckedResolver(self.resolver, self.allow))
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._loop = loop
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            try:
                await session.close()
            except RuntimeError:  # its event loop is gone already
                pass
        if self._own_resolver:
            await self.resolver.close()

    async def screen(self, url: str) -> None:
        """Check a reply URL a web form hands in. Raises ``Refused`` when the policy forbids the URL
        as written or the addresses its host resolves to now, ``Unsigned`` when replies could
        not be signed. A name that does not resolve within ``lookup_timeout`` is let through (it
        may resolve later): the check before each delivery is the one that counts."""
        parts = check_url(url, self.allow)
        if not self.secret:
            raise Unsigned("Replies to 'reply_url' are switched off: the server has no PITCHIN_WEBHOOK_SECRET "
                           "to sign them. An admin must set it (the form's backend checks X-Pitchin-Signature "
                           "with the same secret); or leave 'reply_url' out to have replies emailed.")
        host = parts.hostname
        if literal_address(host) is not None or self.allow.allows_host(host):
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            found = await asyncio.wait_for(self.resolver.resolve(host, port, socket.AF_UNSPEC), self.lookup_timeout)
        except (OSError, asyncio.TimeoutError):
            return
        check_addresses(host, [r["host"] for r in found], self.allow)

    async def send(self, reply: OutgoingReply) -> str:
        url = (reply.reply_url or "").strip()
        try:
            parts = check_url(url, self.allow)
        except Refused as exc:
            raise DeliveryError(exc.explain("the ticket's reply URL"), permanent=True) from None
        if not self.secret:
            raise DeliveryError("cannot sign the reply: PITCHIN_WEBHOOK_SECRET is not set. An admin must set it "
                                "(the web form's backend checks X-Pitchin-Signature with it)", permanent=True)

        body = reply_payload(reply)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(self.secret, body),
            DELIVERY_HEADER: reply.message_id,
        }
        where = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
        session = self._get_session()
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                status = resp.status
                retry_after = _retry_after(resp.headers.get("Retry-After"))
                if 200 <= status < 300:
                    return f"posted to {url}"
                said = _status(status)
                if 300 <= status < 400:
                    log.warning("webhook %s redirected to %r", url, one_line(resp.headers.get("Location", ""), 300))
        except Refused as exc:  # from CheckedResolver: the host resolved to a forbidden address
            raise DeliveryError(exc.explain("the ticket's reply URL"), permanent=True) from None
        except (asyncio.TimeoutError, TimeoutError):
            raise DeliveryError(f"webhook {url} did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            why = "refused the connection" if isinstance(exc.os_error, ConnectionRefusedError) else f"could not be reached ({exc.os_error})"
            raise DeliveryError(f"webhook host {where} {why}") from exc
        except aiohttp.InvalidURL as exc:
            raise DeliveryError(f"the ticket's reply URL {url!r} is not valid", permanent=True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"posting to webhook {url} failed: {one_line(str(exc), 160) or type(exc).__name__}") from exc

        if status == 429:
            raise DeliveryError(f"webhook {url} asked us to slow down ({said})", retry_after=retry_after)
        if status >= 500 or status == 408:
            raise DeliveryError(f"webhook {url} failed ({said})", retry_after=retry_after)
        if 300 <= status < 400:
            raise DeliveryError(f"webhook {url} answered with a redirect ({said}); "
                                "the reply URL must be the final address", permanent=True)
        raise DeliveryError(f"webhook {url} rejected the reply ({said})", permanent=True)
