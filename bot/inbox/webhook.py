"""Answers to web-form tickets: POST signed JSON to the ticket's reply URL.

The body is compact JSON with sorted keys; ``X-Pitchin-Signature`` is ``sha256=<hex>`` of an
HMAC-SHA256 over the exact body bytes with the shared secret (see ``sign_body``), and
``X-Pitchin-Delivery`` carries the reply's Message-ID so a receiver can drop duplicates when
a delivery is retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from handlers.base import DeliveryError, OutgoingReply

__all__ = ["WebhookChannel", "sign_body", "reply_payload"]

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


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class WebhookChannel:
    """POST replies to the ``reply_url`` a web form gave (implements ``CustomerChannel``)."""

    def __init__(self, secret: str, timeout: float = 15):
        self.secret = secret
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session belongs to one event loop; a new loop (a restarted app) gets a new one.
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._loop = loop
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            try:
                await session.close()
            except RuntimeError:  # its event loop is gone already
                pass

    async def send(self, reply: OutgoingReply) -> str:
        url = (reply.reply_url or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeliveryError(f"the ticket's reply URL {url!r} is not an http(s) address", permanent=True)
        if not self.secret:
            raise DeliveryError("cannot sign the webhook: the webhook secret is not configured")

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
                try:
                    detail = _short(await resp.text(errors="replace"))
                except Exception:
                    detail = ""
                reason = f"HTTP {status}" + (f" {resp.reason}" if resp.reason else "")
                said = f"{reason}: {detail}" if detail else reason
                location = resp.headers.get("Location")
        except (asyncio.TimeoutError, TimeoutError):
            raise DeliveryError(f"webhook {url} did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            why = "refused the connection" if isinstance(exc.os_error, ConnectionRefusedError) else f"could not be reached ({exc.os_error})"
            raise DeliveryError(f"webhook host {where} {why}") from exc
        except aiohttp.InvalidURL as exc:
            raise DeliveryError(f"the ticket's reply URL {url!r} is not valid", permanent=True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"posting to webhook {url} failed: {_short(str(exc)) or type(exc).__name__}") from exc

        if status == 429:
            raise DeliveryError(f"webhook {url} asked us to slow down ({said})", retry_after=retry_after)
        if status >= 500 or status == 408:
            raise DeliveryError(f"webhook {url} failed ({said})", retry_after=retry_after)
        if 300 <= status < 400:
            raise DeliveryError(
                f"webhook {url} answered with a redirect ({reason}"
                + (f" to {location}" if location else "")
                + "); the reply URL must be the final address",
                permanent=True,
            )
        raise DeliveryError(f"webhook {url} rejected the reply ({said})", permanent=True)
