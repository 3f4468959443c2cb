"""Reading customer mail: the raw bytes of one mail in, an ``InboundMessage`` out.

Runs in a worker process (``bot.inbox.reader``), never on the event loop: even bounded, a big mail
takes a while to read. What a customer sends is bounded first (``bot.inbox.bounds``): absurd header
blocks are refused, only the first ``MAX_PARTS`` MIME parts are read, HTML is converted up to
``MAX_HTML_CHARS``; whatever was left out is said at the top of the ticket's text.

The sender is read strictly (``AmbiguousSender``); auto-replies (RFC 3834) and failed DMARC checks
are noted on the message for the core to act on.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mimetypes
import re
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage, Message

from bot.html_text import html_to_text
from bot.inbox import bounds
from bot.inbox.sender import AmbiguousSender, MalformedEmail, read_sender
from bot.inbox.signals import auto_reply_reason, dmarc_failed
from handlers.base import Attachment, InboundMessage

__all__ = ["AmbiguousSender", "MAX_HTML_CHARS", "MalformedEmail", "html_to_text", "parse_email"]

# the rest of a longer HTML body is cut (and the ticket says so): bounded work per mail, whatever it holds
MAX_HTML_CHARS = 1_000_000


# ---------------------------------------------------------------- reading mail


def parse_email(raw: bytes, received_at: datetime | None = None) -> InboundMessage:
    """Read one raw RFC 5322 mail (headers, blank line, body) into an ``InboundMessage``.

    Raises ``MalformedEmail`` when the bytes are not a mail, have an absurd header block, no
    sender address (``AmbiguousSender`` when the From header names more than one), or carry
    neither readable text nor attachments.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    elif isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise TypeError(f"parse_email() wants the raw mail as bytes, not {type(raw).__name__}")
    if not raw.strip():
        raise MalformedEmail(
            ("The email is empty (0 bytes). " if not raw else "The email is empty (only blank lines). ")
            + "Pass the complete raw message "
            "(an .eml file: headers such as From: and Subject:, a blank line, then the text)."
        )

    too_big = bounds.header_problem(raw)
    if too_big:
        raise MalformedEmail(f"This email cannot be read: {too_big}. Check what the mail gateway sends.")
    whole = raw
    bounded = bounds.keep_first_parts(raw)
    reading = _Reading()
    if bounded.cut:
        reading.note(f"This email had {bounded.parts:,} MIME parts; Pitchin kept the first {bounded.kept}.")
        raw = bounded.raw

    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this is only a safety net
        raise MalformedEmail(f"This could not be read as an email ({exc}). Pass the complete raw message (.eml).") from exc
    headers = _raw_headers(msg)
    if not headers or not any(name in _MAIL_HEADERS for name in headers):
        raise MalformedEmail(
            "This does not look like an email: it does not start with mail headers "
            "(lines such as 'From: ann@example.com' and 'Subject: …' followed by a blank line). "
            "Pass the complete raw message as saved by the mail server (.eml), headers included."
        )

    sender_email, sender_name = _sender(msg, headers)
    if not sender_email:
        raise MalformedEmail(
            "The email has no usable sender address (its From: header is missing, empty or "
            "not an address), so there is nobody to answer. Check that the mail gateway passes "
            "the original headers through unchanged."
        )

    body_part = _find_body(msg)
    text = _part_text(body_part, reading) if body_part is not None else ""
    if body_part is not None and not text.strip() and body_part.get_content_type() == "text/plain":
        # Some clients send an empty text/plain alternative next to the real HTML.
        try:
            html_part = msg.get_body(preferencelist=("html",))
        except Exception:
            html_part = None
        if html_part is not None:
            body_part, text = html_part, _part_text(html_part, reading)

    extra_texts: list[str] = []
    attachments: list[Attachment] = []
    _collect(msg, body_part, extra_texts, attachments, reading, in_alternative=False)
    if extra_texts:
        text = "\n\n".join(t for t in [text, *extra_texts] if t.strip())
    text = _tidy(text)
    if reading.notes and (text.strip() or attachments):
        # first, so that the card shows it even when it cuts a long text
        text = "\n".join(f"[{n}]" for n in reading.notes) + "\n\n" + text

    if not text.strip() and not attachments:
        raise MalformedEmail(
            f"The email from {sender_email} has no readable text and no attachments, so there "
            "is nothing to make a ticket of. Ask the sender to write their question in the "
            "body of the mail."
        )

    message_id = _first_id(headers.get("message-id", []))
    if message_id is None:
        message_id = f"<sha256-{hashlib.sha256(whole).hexdigest()}@pitchin.invalid>"

    refs: list[str] = []
    for value in headers.get("in-reply-to", []):
        refs.extend(_ids(value))
    references: list[str] = []
    for value in headers.get("references", []):
        references.extend(_ids(value))
    refs.extend(reversed(references))
    in_reply_to = tuple(dict.fromkeys(r for r in refs if r != message_id))

    subject = _header_text(msg, headers, "subject")
    subject = " ".join(subject.split()) or "(no subject)"

    return InboundMessage(
        source="email",
        external_key="email:" + message_id,
        sender_email=sender_email,
        sender_name=sender_name,
        subject=subject,
        text=text,
        received_at=_aware_utc(received_at if received_at is not None else datetime.now(timezone.utc)),
        email_message_id=message_id,
        in_reply_to=in_reply_to,
        attachments=tuple(attachments),
        auto_reply=auto_reply_reason(headers, sender_email),
        dmarc_failed=dmarc_failed(headers),
    )


_MAIL_HEADERS = {
    "from", "to", "cc", "subject", "date", "message-id", "received", "return-path",
    "mime-version", "content-type", "sender", "reply-to", "in-reply-to", "references",
    "delivered-to", "x-mailer", "user-agent",
}


def _raw_headers(msg: Message) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        if not name:
            continue
        headers.setdefault(name.strip().lower(), []).append(_clean(str(value)))
    return headers


def _clean(s: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes are read as UTF-8."""
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")


def _header_text(msg: Message, headers: dict[str, list[str]], name: str) -> str:
    try:
        value = msg.get(name)
        if value is not None:
            return _clean(str(value))
    except Exception:  # a header broken enough to upset the parser: read it by hand
        pass
    values = headers.get(name, [])
    if not values:
        return ""
    try:
        return _clean(str(make_header(decode_header(values[0]))))
    except Exception:
        return values[0]


def _sender(msg: Message, headers: dict[str, list[str]]) -> tuple[str, str]:
    try:
        parsed = getattr(msg.get("from"), "addresses", ()) or ()
    except Exception:  # a header broken enough to upset the parser: only the raw text is read
        parsed = ()
    return read_sender(headers.get("from", []), parsed)


_ID_RE = re.compile(r"<([^<>]+)>")


def _ids(value: str) -> list[str]:
    found = ["<" + "".join(m.split()) + ">" for m in _ID_RE.findall(value)]
    if found:
        return [f for f in found if f != "<>"]
    # No angle brackets: accept bare ids that look like one (local@domain).
    return [f"<{tok}>" for tok in value.split() if "@" in tok.strip("<>,;")]


def _first_id(values: list[str]) -> str | None:
    for value in values:
        ids = _ids(value)
        if ids:
            return ids[0]
    return None


def _aware_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _find_body(msg: EmailMessage) -> Message | None:
    try:
        return msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    cs = (charset or "").strip().strip('"').lower()
    if not cs or cs in ("us-ascii", "ascii", "7bit", "8bit"):
        # Undeclared (or claimed ASCII): real-world mail is then UTF-8 or Windows Latin-1.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("windows-1252", "replace")
    if cs in ("iso-8859-1", "latin-1", "latin1", "iso8859-1", "l1"):
        cs = "windows-1252"  # what senders mean by it (as browsers do); a superset for text
    try:
        return data.decode(cs, "replace")
    except Exception:  # unknown charset name, or not a text codec ("base64", "rot13")
        return data.decode("utf-8", "replace")


def _decoded(part: Message) -> bytes | None:
    """The part's body with its transfer encoding undone; None for a multipart or a broken part."""
    try:
        return part.get_payload(decode=True)
    except Exception:
        return None


def _part_text(part: Message, reading: "_Reading") -> str:
    data = _decoded(part)
    if data is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = _decode_bytes(data, charset)
    if part.get_content_type() == "text/html":
        if len(text) > MAX_HTML_CHARS:
            reading.note(f"The HTML of this email is {len(text):,} characters long; Pitchin converted "
                         f"the first {MAX_HTML_CHARS:,}.")
            text = text[:MAX_HTML_CHARS]
        text = html_to_text(text)
    return text


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").rstrip()


class _Reading:
    """What one reading has seen: made-up file names numbered per kind (inline-image-1.png,
    attachment-1.bin), the MIME parts walked, and notes for the ticket about what was left out."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}
        self.parts = 0
        self.notes: list[str] = []

    def next(self, kind: str) -> int:
        self.n[kind] = self.n.get(kind, 0) + 1
        return self.n[kind]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _safe_filename(name: str) -> str:
    name = _clean(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name


def _ext(content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type, strict=False)
    return ext or ".bin"


def _payload_size(part: Message) -> int:
    data = _decoded(part)
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, list):
            return sum(len(p.as_bytes()) if isinstance(p, Message) else 0 for p in payload)
        return len(payload.encode("utf-8", "surrogateescape")) if isinstance(payload, str) else 0
    return len(data)


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return _safe_filename(name) if name else ""


def _collect(
    part: Message,
    body: Message | None,
    extra_texts: list[str],
    attachments: list[Attachment],
    counter: _Reading,
    in_alternative: bool,
) -> None:
    """Walk the MIME tree: list attachments, gather inline text split around inline images."""
    counter.parts += 1
    if counter.parts > bounds.MAX_PARTS + 1:  # the mail and its first MAX_PARTS parts
        # only when the byte-level cut missed the boundaries (bounds.py says when)
        counter.note(f"This email has more than {bounds.MAX_PARTS} MIME parts; Pitchin kept the first {bounds.MAX_PARTS}.")
        return
    if part is body:
        return
    ctype = part.get_content_type()
    filename = _filename(part)
    disposition = _disposition(part)

    if ctype == "message/rfc822" or (part.get_content_maintype() == "message" and part.is_multipart()):
        # An attached mail: listed as one file, its insides are not our customer's text.
        name = filename or f"attached-message-{counter.next('attached-message')}.eml"
        attachments.append(Attachment(name, _payload_size(part), ctype))
        return

    if part.is_multipart():
        alt = in_alternative or ctype == "multipart/alternative"
        for sub in part.iter_parts() if isinstance(part, EmailMessage) else part.get_payload():
            if isinstance(sub, Message):
                _collect(sub, body, extra_texts, attachments, counter, alt)
        return

    if filename or disposition == "attachment":
        if not filename:
            filename = f"attachment-{counter.next('attachment')}{_ext(ctype)}"
        attachments.append(Attachment(filename, _payload_size(part), ctype))
        return

    maintype = part.get_content_maintype()
    if maintype == "text":
        # Apple Mail splits a body around pasted pictures into several inline text parts.
        if ctype == "text/plain" and not in_alternative and body is not None and body.get_content_type() == "text/plain":
            extra = _part_text(part, counter)
            if extra.strip():
                extra_texts.append(extra)
        return

    # A nameless inline picture (or other file): listed under a made-up name.
    kind = "inline-image" if maintype == "image" else "attachment"
    attachments.append(Attachment(f"{kind}-{counter.next(kind)}{_ext(ctype)}", _payload_size(part), ctype))
