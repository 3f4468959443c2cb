"""What a mail's headers say about it beyond its text: an automatic reply, a failed DMARC check.

Auto-replies (RFC 3834): ``Auto-Submitted`` other than ``no``, ``Precedence: bulk|junk|list``,
``X-Autoreply``/``X-Autorespond``, a delivery report (``multipart/report``), an empty return path
(``Return-Path: <>``, what bounces carry) or a sender that is a mail system (MAILER-DAEMON,
postmaster). ``X-Auto-Response-Suppress`` is not one: Outlook puts it on ordinary mail to ask
*us* not to auto-reply.

DMARC: the receiving server writes its verdict into ``Authentication-Results``. A sender can add
such a header too, so a ``dmarc=fail`` in any of them is flagged, and a ``pass`` is never taken as
proof of anything.
"""

from __future__ import annotations

import re

__all__ = ["auto_reply_reason", "dmarc_failed"]

_BULK = {"bulk", "junk", "list"}
_MAIL_SYSTEMS = {"mailer-daemon", "postmaster"}
_DMARC_FAIL = re.compile(r"\bdmarc\s*=\s*fail\b", re.IGNORECASE)


def auto_reply_reason(headers: dict[str, list[str]], sender_email: str) -> str | None:
    """Why this mail is automatic ("Auto-Submitted: auto-replied"), or None for a person's mail.
    ``headers`` maps lower-case header names to their raw values."""

    def first(name: str) -> str:
        values = headers.get(name) or [""]
        return " ".join(values[0].split())

    auto_submitted = first("auto-submitted")
    if auto_submitted and auto_submitted.split(";")[0].strip().lower() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = first("precedence").lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    for name, shown in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        if name in headers:
            return f"{shown}: {first(name)}".rstrip(": ")
    if first("content-type").lower().startswith("multipart/report"):
        return "a delivery report (multipart/report)"
    if any(v.strip() == "<>" for v in headers.get("return-path", [])):
        return "an empty return path (Return-Path: <>), as bounces have"
    local = sender_email.split("@", 1)[0].lower()
    if local in _MAIL_SYSTEMS:
        return f"sent by a mail system ({sender_email})"
    return None


def dmarc_failed(headers: dict[str, list[str]]) -> bool:
    return any(_DMARC_FAIL.search(value) for value in headers.get("authentication-results", []))
