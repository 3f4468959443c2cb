"""The customer email side: read incoming mail, write and send replies.

``parse_email`` turns the raw bytes of one mail into an ``InboundMessage``; ``strip_quoted``
removes the history a mail client appends to a reply; ``build_reply_email`` writes an
employee's answer as a mail that threads under the customer's; ``SmtpChannel`` and
``MaildirChannel`` deliver it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import mimetypes
import os
import re
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib
import html2text

from bot.inbox.urls import starttls_option
from handlers.base import Attachment, DeliveryError, InboundMessage, OutgoingReply

__all__ = [
    "MalformedEmail",
    "MaildirChannel",
    "SmtpChannel",
    "SmtpSettings",
    "build_reply_email",
    "html_to_text",
    "make_message_id",
    "parse_email",
    "parse_smtp_url",
    "strip_quoted",
]


class MalformedEmail(ValueError):
    """The bytes given are not a mail Pitchin can turn into a ticket; the message says why."""


# ---------------------------------------------------------------- reading mail


def parse_email(raw: bytes, received_at: datetime | None = None) -> InboundMessage:
    """Read one raw RFC 5322 mail (headers, blank line, body) into an ``InboundMessage``.

    Raises ``MalformedEmail`` when the bytes are not a mail, have no sender address, or carry
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
    text = _part_text(body_part) if body_part is not None else ""
    if body_part is not None and not text.strip() and body_part.get_content_type() == "text/plain":
        # Some clients send an empty text/plain alternative next to the real HTML.
        try:
            html_part = msg.get_body(preferencelist=("html",))
        except Exception:
            html_part = None
        if html_part is not None:
            body_part, text = html_part, _part_text(html_part)

    extra_texts: list[str] = []
    attachments: list[Attachment] = []
    _collect(msg, body_part, extra_texts, attachments, _Counter(), in_alternative=False)
    if extra_texts:
        text = "\n\n".join(t for t in [text, *extra_texts] if t.strip())
    text = _tidy(text)

    if not text.strip() and not attachments:
        raise MalformedEmail(
            f"The email from {sender_email} has no readable text and no attachments, so there "
            "is nothing to make a ticket of. Ask the sender to write their question in the "
            "body of the mail."
        )

    message_id = _first_id(headers.get("message-id", []))
    if message_id is None:
        message_id = f"<sha256-{hashlib.sha256(raw).hexdigest()}@pitchin.invalid>"

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
    addr, name = "", ""
    try:
        header = msg.get("from")
        for a in getattr(header, "addresses", ()) or ():
            if "@" in (a.addr_spec or "") and a.username and a.domain:
                addr, name = a.addr_spec, a.display_name or ""
                break
    except Exception:
        addr = ""
    if not addr:
        for value in headers.get("from", []):
            name, addr = parseaddr(value)
            if "@" in addr and not addr.startswith("@") and not addr.endswith("@"):
                try:
                    name = str(make_header(decode_header(name))) if name else ""
                except Exception:
                    pass
                break
            addr, name = "", ""
    addr = _clean(addr).strip().strip("<>").lower()
    if not addr or " " in addr:
        return "", ""
    name = " ".join(_clean(name).split()).strip('"').strip()
    if not name or name.lower() == addr:
        name = addr.split("@", 1)[0]
    return addr, name


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


def _part_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = _decode_bytes(data, charset)
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text


class _PlainHtml(html2text.HTML2Text):
    """html2text tuned for reading mail: no markdown escapes, table cells kept apart."""

    def handle_data(self, data, entity_char=False):  # type: ignore[override]
        # entity_char=True only tells html2text not to backslash-escape markdown characters.
        super().handle_data(data, entity_char=True)

    def handle_tag(self, tag, attrs, start):  # type: ignore[override]
        super().handle_tag(tag, attrs, start)
        if tag in ("td", "th") and not start:
            self.o("  ")


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML mail body: no tags, no link or image markup."""
    h = _PlainHtml()
    h.body_width = 0
    h.ignore_images = True
    h.ignore_links = True
    h.ignore_emphasis = True
    h.ignore_tables = True
    h.unicode_snob = True
    try:
        text = h.handle(html)
    except Exception:
        text = re.sub(r"<[^>]*>", " ", html)
    return _tidy(text)


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").rstrip()


class _Counter:
    """Numbers made-up file names per kind: inline-image-1.png, inline-image-2.jpg, attachment-1.bin."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def next(self, kind: str) -> int:
        self.n[kind] = self.n.get(kind, 0) + 1
        return self.n[kind]


def _safe_filename(name: str) -> str:
    name = _clean(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name


def _ext(content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type, strict=False)
    return ext or ".bin"


def _payload_size(part: Message) -> int:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
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
    counter: _Counter,
    in_alternative: bool,
) -> None:
    """Walk the MIME tree: list attachments, gather inline text split around inline images."""
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
            extra = _part_text(part)
            if extra.strip():
                extra_texts.append(extra)
        return

    # A nameless inline picture (or other file): listed under a made-up name.
    kind = "inline-image" if maintype == "image" else "attachment"
    attachments.append(Attachment(f"{kind}-{counter.next(kind)}{_ext(ctype)}", _payload_size(part), ctype))


# ---------------------------------------------------------------- quoted history


_ATTRIBUTION_START = re.compile(r"^\s*(On|Am|Le|El|Op|Il|Em|Den|På)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(
    r"(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev)\s*:\s*$", re.IGNORECASE
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*{0,2}(From|Von|De)\s*:\*{0,2}\s*\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\s*\*{0,2}(Sent|Date|Gesendet|Envoyé|Enviado)\s*:", re.IGNORECASE)
_OUTLOOK_TO = re.compile(r"^\s*\*{0,2}(To|Subject|An|Betreff|À|Objet|Para|Asunto)\s*:", re.IGNORECASE)
_RULE = re.compile(r"^\s*(_{10,}|-{10,})\s*$")


def strip_quoted(text: str) -> str:
    """Remove the quoted history a mail client appends below a reply.

    Cuts at the first "On <date>, <name> wrote:" line, "-----Original Message-----" line or
    Outlook "From: … Sent: … To:/Subject:" header block, and drops a trailing block of
    ">"-quoted lines. Inline (interleaved) quoting is kept. If nothing would be left, the
    original text is returned unchanged.
    """
    if not text:
        return text
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_start(lines)
    if cut is None:
        kept = lines
    else:
        kept = lines[:cut]
        # A separator rule ("________") right above an Outlook header belongs to the quote.
        while kept and not kept[-1].strip():
            kept.pop()
        if kept and _RULE.match(kept[-1]):
            kept.pop()

    # A trailing block of "> " lines (and the attribution right above it).
    end = len(kept)
    while end and (not kept[end - 1].strip() or kept[end - 1].lstrip().startswith(">")):
        end -= 1
    if any(line.lstrip().startswith(">") for line in kept[end:]):
        kept = kept[:end]
        while kept and not kept[-1].strip():
            kept.pop()
        if kept and _ATTRIBUTION_END.search(kept[-1]):
            kept.pop()

    if cut is None and len(kept) == len(lines):
        return text
    result = "\n".join(kept).rstrip()
    return result if result.strip() else text


def _quote_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _ORIGINAL_MESSAGE.match(line):
            return i
        if _ATTRIBUTION_START.match(line):
            # The attribution may wrap over up to three lines ("… Ann Smith <\nann@x.com> wrote:").
            joined = line
            for j in range(i, min(i + 3, len(lines))):
                if j > i:
                    joined += " " + lines[j]
                # A real attribution names a date or an address: "On Monday I wrote:" is prose.
                if _ATTRIBUTION_END.search(joined) and re.search(r"\d|@", joined) and len(joined) < 400:
                    return i
        if _OUTLOOK_FROM.match(line):
            window = lines[i + 1 : i + 6]
            if any(_OUTLOOK_SENT.match(w) for w in window) and any(_OUTLOOK_TO.match(w) for w in window):
                return i
    return None


# ---------------------------------------------------------------- writing mail


def make_message_id(domain: str) -> str:
    """A new, globally unique Message-ID for a mail we send: ``<pitchin.{hex}@{domain}>``."""
    domain = (domain or "").strip().strip("<>").split("@")[-1] or "pitchin.invalid"
    return f"<pitchin.{uuid.uuid4().hex}@{domain}>"


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


def _bracketed(mid: str) -> str:
    mid = "".join((mid or "").split())
    if mid and not mid.startswith("<"):
        mid = f"<{mid}>"
    return mid


def build_reply_email(reply: OutgoingReply, from_addr: str, from_name: str | None = None) -> EmailMessage:
    """Write an employee's answer as a plain-text mail that threads under the customer's."""
    # 7bit-safe body (quoted-printable/base64 when not ASCII): no reliance on 8BITMIME.
    msg = EmailMessage(policy=email.policy.default.clone(cte_type="7bit"))
    msg["From"] = formataddr((_one_line(from_name) or "Support", from_addr.strip()))
    msg["To"] = formataddr((_one_line(reply.to_name), reply.to_email.strip()))
    msg["Subject"] = _one_line(reply.subject)
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = _bracketed(reply.message_id)
    if reply.in_reply_to:
        msg["In-Reply-To"] = _bracketed(reply.in_reply_to)
    refs = [_bracketed(r) for r in reply.references if r and r.strip()]
    if refs:
        msg["References"] = " ".join(dict.fromkeys(refs))
    text = (reply.text or "").replace("\r\n", "\n").replace("\r", "\n")
    msg.set_content(text if text.endswith("\n") else text + "\n", charset="utf-8")
    msg.policy = email.policy.default
    return msg


# ---------------------------------------------------------------- sending mail

_SMTP_URL_EXAMPLE = (
    "e.g. SMTP_URL=smtps://user:password@smtp.example.com:465 (implicit TLS), "
    "smtp://user:password@smtp.example.com:587?starttls=true, or smtp://localhost:25"
)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read ``smtp://user:pass@host:port[?starttls=true]`` or ``smtps://…``; ValueError if bad."""
    def bad(why: str) -> ValueError:
        shown = re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url or "")
        return ValueError(f"SMTP_URL {shown!r} is not usable: {why}; {_SMTP_URL_EXAMPLE}")

    if not url or not url.strip():
        raise bad("it is empty")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise bad(f"the port is not a number ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise bad(f"it must start with smtp:// or smtps://, not {scheme + '://' if scheme else 'no scheme'}")
    host = parts.hostname
    if not host:
        raise bad("it names no mail server host")
    if parts.path not in ("", "/"):
        raise bad(f"unexpected path {parts.path!r}")

    start_tls = starttls_option(parts.query, bad)
    use_tls = scheme == "smtps"
    if use_tls and start_tls:
        raise bad("smtps:// already encrypts the connection; starttls=true only goes with smtp://")

    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise bad("a password is given without a user name")
    return SmtpSettings(
        host=host,
        port=port or (465 if use_tls else 25),
        username=username,
        password=password,
        use_tls=use_tls,
        start_tls=start_tls,
    )


class SmtpChannel:
    """Send replies through an SMTP server (implements ``CustomerChannel``)."""

    def __init__(
        self,
        host: str,
        port: int,
        from_addr: str,
        *,
        from_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool = False,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ):
        if not from_addr or "@" not in from_addr:
            raise ValueError(f"the sender address for replies must be an email address, not {from_addr!r}")
        self.host = host
        self.port = port
        self.from_addr = from_addr.strip()
        self.from_name = from_name
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.timeout = timeout
        self.tls_context = tls_context

    @classmethod
    def from_url(
        cls,
        url: str,
        from_addr: str,
        *,
        from_name: str | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> "SmtpChannel":
        s = parse_smtp_url(url)
        return cls(
            s.host,
            s.port,
            from_addr,
            from_name=from_name,
            username=s.username,
            password=s.password,
            use_tls=s.use_tls,
            start_tls=s.start_tls,
            timeout=timeout,
            tls_context=tls_context,
        )

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    async def send(self, reply: OutgoingReply) -> str:
        to = (reply.to_email or "").strip()
        if "@" not in to or any(c.isspace() for c in to):
            raise DeliveryError(f"cannot email the customer: {to!r} is not an email address", permanent=True)
        msg = build_reply_email(reply, self.from_addr, self.from_name)
        try:
            await aiosmtplib.send(
                msg,
                sender=self.from_addr,
                recipients=[to],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
                tls_context=self.tls_context,
            )
        except Exception as exc:
            raise self._explain(exc, to) from exc
        return f"emailed {to}"

    def _explain(self, exc: Exception, to: str) -> DeliveryError:
        where = f"mail server {self.server}"
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
            exc = exc.recipients[0]
        if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
            return DeliveryError(
                f"{where} rejected the recipient {to}: {exc.code} {_short(exc.message)}",
                permanent=exc.code >= 500,
            )
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            # Our own From address: fixable by whoever configures Pitchin, so worth retrying.
            return DeliveryError(
                f"{where} refused our sender address {self.from_addr}: {exc.code} {_short(exc.message)}"
            )
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return DeliveryError(
                f"{where} did not accept the login for user {self.username!r}: {exc.code} "
                f"{_short(exc.message)} (check the user and password in SMTP_URL)"
            )
        if isinstance(exc, aiosmtplib.SMTPDataError):
            return DeliveryError(
                f"{where} rejected the message: {exc.code} {_short(exc.message)}",
                permanent=exc.code >= 500,
            )
        if type(exc) is aiosmtplib.SMTPException and "AUTH extension" in exc.message:
            return DeliveryError(
                f"{where} does not offer a login (AUTH) on this connection, but SMTP_URL has a "
                "user name; use smtps:// or starttls=true, or remove user:password from SMTP_URL"
            )
        if type(exc) is aiosmtplib.SMTPException and "STARTTLS extension" in exc.message:
            return DeliveryError(
                f"{where} does not offer STARTTLS, but SMTP_URL asks for it (starttls=true); "
                "use the server's TLS port with smtps:// or drop starttls=true"
            )
        if isinstance(exc, aiosmtplib.SMTPNotSupported):
            return DeliveryError(f"{where} cannot do what SMTP_URL asks: {_short(exc.message)}")
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            return DeliveryError(f"{where} did not answer within {self.timeout:g} s")
        if isinstance(exc, aiosmtplib.SMTPConnectError):
            cause = exc.__cause__
            if isinstance(cause, ConnectionRefusedError):
                return DeliveryError(f"{where} refused the connection")
            if isinstance(cause, socket.gaierror):
                return DeliveryError(f"{where} could not be found (unknown host {self.host!r})")
            if isinstance(cause, ssl.SSLError):
                return DeliveryError(f"{where}: TLS handshake failed ({_short(str(cause))})")
            return DeliveryError(f"{where} could not be reached: {_short(str(cause or exc.message))}")
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            return DeliveryError(f"{where} closed the connection unexpectedly")
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return DeliveryError(f"{where} answered {exc.code} {_short(exc.message)}", permanent=False)
        if isinstance(exc, ssl.SSLError):
            return DeliveryError(f"{where}: TLS failed ({_short(str(exc))})")
        if isinstance(exc, (OSError, asyncio.TimeoutError, aiosmtplib.SMTPException)):
            return DeliveryError(f"{where} could not take the mail: {_short(str(exc))}")
        return DeliveryError(f"sending mail via {where} failed: {type(exc).__name__}: {_short(str(exc))}")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MaildirChannel:
    """Write replies into a Maildir instead of sending them (local setups, demos, tests)."""

    def __init__(self, path: str | os.PathLike[str], from_addr: str, from_name: str | None = None):
        self.path = os.fspath(path)
        self.from_addr = from_addr
        self.from_name = from_name

    async def send(self, reply: OutgoingReply) -> str:
        msg = build_reply_email(reply, self.from_addr, self.from_name)
        data = msg.as_bytes(policy=email.policy.default.clone(linesep="\n"))
        try:
            path = await asyncio.to_thread(self._deliver, data)
        except OSError as exc:
            raise DeliveryError(f"could not write the mail into Maildir {self.path}: {exc.strerror or exc}") from exc
        return f"written to {path}"

    def _deliver(self, data: bytes) -> str:
        for sub in ("tmp", "new", "cur"):  # a Maildir (as mailbox.Maildir reads it), made if missing
            os.makedirs(os.path.join(self.path, sub), mode=0o700, exist_ok=True)
        host = socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"
        name = f"{int(time.time())}.P{os.getpid()}Q{uuid.uuid4().hex}.{host}.eml"
        tmp = os.path.join(self.path, "tmp", name)
        final = os.path.join(self.path, "new", name)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, final)  # the Maildir way: readers never see a half-written file
        return final
