"""A real SMTP server for tests (aiosmtpd), recording what it receives.

    sink = SmtpSink(); sink.start()
    ... send mail to 127.0.0.1:sink.port (or SMTP_URL=sink.url) ...
    mails = await sink.wait_for(1)
    mails[0]["Subject"], mails[0].text, mails[0].rcpt_tos
    sink.stop(); sink.start()          # down, then up again on the same port
    sink.reject("bob@example.com")     # RCPT TO:<bob@example.com> gets 550

The server runs in its own thread (aiosmtpd's ``Controller``), so it keeps answering while a
test's event loop is busy awaiting a client.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["ReceivedMail", "SmtpSink", "make_tls_contexts"]


@dataclass
class ReceivedMail:
    """One mail as the sink accepted it: the parsed message plus its SMTP envelope."""

    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str | None = None  # the AUTH user, when the client logged in

    def __getitem__(self, header: str):
        return self.message[header]

    @property
    def text(self) -> str:
        """The plain-text body, decoded, with the wire's CRLF line ends as "\\n"."""
        part = self.message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        return text.replace("\r\n", "\n")


@dataclass
class _Rejection:
    code: int
    text: str


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rejection = self.sink._rejections.get(address.lower())
        if rejection is not None:
            return f"{rejection.code} {rejection.text}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.sink._record(ReceivedMail(message, envelope.mail_from, list(envelope.rcpt_tos), raw, login))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's Controller, able to bind port 0 and report the port it got."""

    def _create_server(self):
        async def create():
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps every mail it accepts in ``messages``.

    ``port=0`` picks a free port at the first ``start()``; later starts reuse it.
    ``credentials=(user, password)`` turns on AUTH (PLAIN/LOGIN, allowed without TLS).
    ``tls="implicit"`` (SMTPS) or ``tls="starttls"`` need ``server_tls`` (see ``make_tls_contexts``).
    """

    host: str = "127.0.0.1"
    port: int = 0
    credentials: tuple[str, str] | None = None
    tls: str | None = None
    server_tls: ssl.SSLContext | None = None
    messages: list[ReceivedMail] = field(default_factory=list)
    failed_logins: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.tls not in (None, "implicit", "starttls"):
            raise ValueError("tls must be None, 'implicit' or 'starttls'")
        if self.tls and self.server_tls is None:
            raise ValueError("tls needs server_tls (an ssl.SSLContext for the server side)")
        self._rejections: dict[str, _Rejection] = {}
        self._cond = threading.Condition()
        self._controller: _Controller | None = None

    # ------------------------------------------------------------ up and down

    def start(self) -> "SmtpSink":
        if self._controller is not None:
            raise RuntimeError(f"SmtpSink already running on {self.address}")
        kwargs: dict = {}
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if self.tls == "implicit":
            kwargs["ssl_context"] = self.server_tls
        elif self.tls == "starttls":
            kwargs.update(tls_context=self.server_tls, require_starttls=True)
        controller = _Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10, **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Take the server down: new connections are refused until ``start()`` (same port)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """An SMTP_URL for this sink (with the credentials, when AUTH is on)."""
        from urllib.parse import quote

        scheme = "smtps" if self.tls == "implicit" else "smtp"
        auth = ""
        if self.credentials is not None:
            auth = f"{quote(self.credentials[0], safe='')}:{quote(self.credentials[1], safe='')}@"
        query = "?starttls=true" if self.tls == "starttls" else ""
        return f"{scheme}://{auth}{self.address}{query}"

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ behaviour

    def reject(self, address: str, code: int = 550, text: str | None = None) -> None:
        """Answer ``RCPT TO:<address>`` with ``code`` (550: permanent, 450: try later)."""
        if text is None:
            text = (
                f"5.1.1 <{address}>: Recipient address rejected: User unknown"
                if code >= 500
                else f"4.2.1 <{address}>: Mailbox temporarily unavailable"
            )
        self._rejections[address.lower()] = _Rejection(code, text)

    def accept(self, address: str) -> None:
        """Stop rejecting ``address``."""
        self._rejections.pop(address.lower(), None)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if self.credentials == (user, password):
                return AuthResult(success=True, auth_data=auth_data)
            self.failed_logins.append((user, password))
        return AuthResult(success=False, handled=False)

    def _record(self, mail: ReceivedMail) -> None:
        with self._cond:
            self.messages.append(mail)
            self._cond.notify_all()

    # ------------------------------------------------------------ waiting

    async def wait_for(self, count: int = 1, timeout: float = 10) -> list[ReceivedMail]:
        """Wait (without blocking the event loop) until ``count`` mails arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(count, timeout))
            await asyncio.sleep(0.01)
        return list(self.messages)

    def wait_for_sync(self, count: int = 1, timeout: float = 10) -> list[ReceivedMail]:
        """Like ``wait_for`` for code with no event loop (blocks the calling thread)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout=timeout):
                raise AssertionError(self._timeout_message(count, timeout))
            return list(self.messages)

    def _timeout_message(self, count: int, timeout: float) -> str:
        got = [str(m["Subject"]) for m in self.messages]
        return f"SmtpSink on {self.address}: expected {count} mail(s) within {timeout:g} s, got {len(got)}: {got}"


def make_tls_contexts(hostname: str = "localhost") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway self-signed certificate: (server context, client context that trusts it).

    Needs the ``cryptography`` package; tests should ``pytest.importorskip("cryptography")``.
    """
    from tests.fakes.tls import self_signed_pem

    cert_pem, key_pem = self_signed_pem(hostname)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client
