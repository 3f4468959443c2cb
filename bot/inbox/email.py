"""The customer email side: write employees' answers as mail and send them.

``build_reply_email`` writes an employee's answer as a mail that threads under the customer's;
``SmtpChannel`` and ``MaildirChannel`` deliver it. Reading mail lives in ``bot.inbox.parse``
(``parse_email``) and ``bot.inbox.quotes`` (``strip_quoted``); their names are importable from
here as well.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

from bot.inbox.parse import MalformedEmail, html_to_text, parse_email
from bot.inbox.quotes import strip_quoted
from bot.inbox.urls import starttls_option
from bot.one_line import one_line
from handlers.base import DeliveryError, OutgoingReply

__all__ = [
    "MalformedEmail",
    "MaildirChannel",
    "SmtpChannel",
    "SmtpSettings",
    "build_reply_email",
    "html_to_text",
    "parse_email",
    "parse_smtp_url",
    "strip_quoted",
]


# ---------------------------------------------------------------- writing mail


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


def _bracketed(mid: str) -> str:
    mid = "".join((mid or "").split())
    if mid and not mid.startswith("<"):
        mid = f"<{mid}>"
    return mid


def build_reply_email(reply: OutgoingReply, from_addr: str, from_name: str | None = None) -> EmailMessage:
    """Write an employee's answer as a plain-text mail that threads under the customer's. A mail of
    Pitchin's own may carry an HTML alternative (``reply.html``) and say it is automatic
    (``reply.auto_submitted``)."""
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
    if reply.auto_submitted:
        # RFC 3834: automatic responders must not answer it; Exchange and Outlook read their own header
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    text = (reply.text or "").replace("\r\n", "\n").replace("\r", "\n")
    msg.set_content(text if text.endswith("\n") else text + "\n", charset="utf-8")
    if reply.html is not None:
        msg.add_alternative(reply.html, subtype="html", charset="utf-8")
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
                f"{where} rejected the recipient {to}: {exc.code} {one_line(exc.message)}",
                permanent=exc.code >= 500,
            )
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            # Our own From address: fixable by whoever configures Pitchin, so worth retrying.
            return DeliveryError(
                f"{where} refused our sender address {self.from_addr}: {exc.code} {one_line(exc.message)}"
            )
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return DeliveryError(
                f"{where} did not accept the login for user {self.username!r}: {exc.code} "
                f"{one_line(exc.message)} (check the user and password in SMTP_URL)"
            )
        if isinstance(exc, aiosmtplib.SMTPDataError):
            return DeliveryError(
                f"{where} rejected the message: {exc.code} {one_line(exc.message)}",
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
            return DeliveryError(f"{where} cannot do what SMTP_URL asks: {one_line(exc.message)}")
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            return DeliveryError(f"{where} did not answer within {self.timeout:g} s")
        if isinstance(exc, aiosmtplib.SMTPConnectError):
            cause = exc.__cause__
            if isinstance(cause, ConnectionRefusedError):
                return DeliveryError(f"{where} refused the connection")
            if isinstance(cause, socket.gaierror):
                return DeliveryError(f"{where} could not be found (unknown host {self.host!r})")
            if isinstance(cause, ssl.SSLError):
                return DeliveryError(f"{where}: TLS handshake failed ({one_line(str(cause))})")
            return DeliveryError(f"{where} could not be reached: {one_line(str(cause or exc.message))}")
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            return DeliveryError(f"{where} closed the connection unexpectedly")
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return DeliveryError(f"{where} answered {exc.code} {one_line(exc.message)}", permanent=False)
        if isinstance(exc, ssl.SSLError):
            return DeliveryError(f"{where}: TLS failed ({one_line(str(exc))})")
        if isinstance(exc, (OSError, asyncio.TimeoutError, aiosmtplib.SMTPException)):
            return DeliveryError(f"{where} could not take the mail: {one_line(str(exc))}")
        return DeliveryError(f"sending mail via {where} failed: {type(exc).__name__}: {one_line(str(exc))}")



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
