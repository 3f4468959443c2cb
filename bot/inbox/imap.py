"""Poll an IMAP mailbox for customer email (``IMAP_URL``) and turn each new mail into a ticket.

    poller = ImapPoller("imaps://support%40example.com:secret@imap.example.com/INBOX", ctx)
    stored = await poller.poll()   # the scheduler calls this every minute

Each poll logs in, selects the folder and asks for the UNSEEN mails. Every one is fetched with
``BODY.PEEK[]`` (which leaves it unseen), read by ``read_mail`` (in the app's ``MailReader``
worker processes, like HTTP intake) and stored by
``handlers.tickets.intake``; only after intake returned is it flagged ``\\Seen``. A crash in
between means the mail is fetched again next time, and intake, idempotent on the Message-ID,
recognises it. A mail that is not a usable email is flagged ``\\Flagged`` and ``\\Seen`` (so it
is not retried every minute, and a person can find it) and logged with its UID and the reason.

The mailbox should be Pitchin's alone: a person who reads a mail there in a mail client marks it
seen, and Pitchin then skips it.

``poll`` never raises: a server that cannot be reached or refuses the login is logged with the
host, the user and what to check, and the next poll tries again.
"""

from __future__ import annotations

import asyncio
import base64
import imaplib
import ipaddress
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from bot.inbox.reader import MailReader, read_mail
from bot.inbox.sender import MalformedEmail
from bot.inbox.urls import starttls_option
from bot.one_line import one_line
from handlers import tickets
from handlers.context import Context

__all__ = ["ImapError", "ImapPoller", "ImapSettings", "parse_imap_url"]

log = logging.getLogger("pitchin.imap")

_IMAP_URL_EXAMPLE = (
    "e.g. IMAP_URL=imaps://user:password@imap.example.com/INBOX (TLS, port 993) or "
    "imap://user:password@imap.example.com:143/INBOX?starttls=true; "
    "percent-encode an @ or : in the user or password (support%40example.com)"
)

TIMEOUT = 30.0  # seconds for connecting and for each server answer
_MAX_FAILED_IN_A_ROW = 3  # intake failing this often in a row (database down?) ends the round


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    use_tls: bool = False  # imaps://: TLS from the first byte
    start_tls: bool = False  # imap://…?starttls=true: plain, then STARTTLS before the login

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL with the password hidden, for logs."""
        query = "?starttls=true" if self.start_tls else ""
        return f"{'imaps' if self.use_tls else 'imap'}://{self.username}:***@{self.server}/{self.folder}{query}"


def parse_imap_url(url: str) -> ImapSettings:
    """Read ``imaps://user:pass@host[:port]/FOLDER`` or ``imap://…[?starttls=true]``.

    User, password and folder are percent-decoded; the folder defaults to INBOX, the port to 993
    (imaps) or 143 (imap). Raises ValueError naming IMAP_URL, with an example, when it is unusable.
    """

    def bad(why: str) -> ValueError:
        shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", (url or "").strip())
        return ValueError(f"IMAP_URL {shown!r} is not usable: {why}; {_IMAP_URL_EXAMPLE}")

    if not isinstance(url, str) or not url.strip():
        raise bad("it is empty")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise bad(f"the port is not a number from 1 to 65535 ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps"):
        raise bad(f"it must start with imap:// or imaps://, not {scheme + '://' if scheme else 'no scheme'}")
    host = parts.hostname
    if not host:
        raise bad("it names no mail server host")
    if port == 0:
        raise bad("the port must be a number from 1 to 65535, not 0")
    if parts.username is None or not unquote(parts.username):
        raise bad("it has no user name (imaps://user:password@host/INBOX)")
    if parts.password is None:
        raise bad("it has no password after the user name (imaps://user:password@host/INBOX)")
    if parts.fragment:
        raise bad(f"unexpected #{parts.fragment} at the end")

    start_tls = starttls_option(parts.query, bad)
    use_tls = scheme == "imaps"
    if use_tls and start_tls:
        raise bad("imaps:// already encrypts the connection; starttls=true only goes with imap://")

    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if folder.upper() == "INBOX":
        folder = "INBOX"  # INBOX is case-insensitive in IMAP; every other name is not
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in folder):
        raise bad(f"the folder name {folder!r} contains control characters")

    return ImapSettings(
        host=host,
        port=port or (993 if use_tls else 143),
        username=unquote(parts.username),
        password=unquote(parts.password),
        folder=folder,
        use_tls=use_tls,
        start_tls=start_tls,
    )


class ImapError(Exception):
    """A poll could not go on; the message says what happened and what to check."""

    stage = ""  # set by ImapPoller.check: "connect", "login" or "folder", the step that failed


class ImapPoller:
    """Fetch the unseen mails of one IMAP folder and make tickets of them (``poll``)."""

    def __init__(self, url: str, ctx: Context | None, ssl_context: ssl.SSLContext | None = None, *, timeout: float = TIMEOUT,
                 reader: MailReader | None = None):
        self.settings = parse_imap_url(url)
        self.ctx = ctx  # None: only for ``check`` (`pitchin doctor`), which stores nothing
        # the app's worker processes; without one (tests, scripts) mail is read in the polling thread
        self.read = reader.read_blocking if reader is not None else read_mail
        self.ssl_context = ssl_context
        self.timeout = timeout
        s = self.settings
        if not s.use_tls and not s.start_tls and not _is_loopback(s.host):
            log.warning(
                "IMAP_URL uses imap:// without starttls=true: the password for %s goes to %s "
                "unencrypted; use imaps:// or add ?starttls=true",
                s.username,
                s.server,
            )

    def __repr__(self) -> str:
        return f"ImapPoller({self.settings.url!r})"

    # ------------------------------------------------------------ the poll

    async def poll(self) -> int:
        """Make tickets of the folder's unseen mails; returns how many were stored.

        Never raises (the scheduler calls it again in a minute); problems are logged."""
        try:
            return await asyncio.to_thread(self._poll_blocking)
        except Exception:  # a bug, not a server problem: still keep the scheduler going
            log.exception("IMAP poll of %s failed unexpectedly", self.settings.url)
            return 0

    def check(self) -> None:
        """Connect, log in and open the folder as a poll does, then log out; reads no mail.

        What `pitchin doctor` asks (blocking: run it in a thread). Raises ImapError with ``stage``
        naming the step that failed."""
        stage, conn = "connect", None
        try:
            conn = self._connect()
            stage = "login"
            self._login(conn)
            stage = "folder"
            self._select(conn)
        except ImapError as exc:
            exc.stage = stage
            raise
        except (imaplib.IMAP4.error, OSError) as exc:  # the connection broke, or an unexpected answer
            error = ImapError(f"IMAP server {self.settings.server} failed during the {stage}: "
                              f"{one_line(str(exc) or type(exc).__name__)}")
            error.stage = stage
            raise error from None
        finally:
            if conn is not None:
                _logout(conn)

    def _poll_blocking(self) -> int:
        s = self.settings
        stored = 0
        conn: imaplib.IMAP4 | None = None
        try:
            conn = self._connect()
            self._login(conn)
            self._select(conn)
            uids = self._unseen(conn)
            if not uids:
                log.debug("IMAP %s/%s: no new mail", s.server, s.folder)
                return 0
            failed_in_a_row = 0
            for uid in uids:
                try:
                    outcome = self._take(conn, uid)
                except _IntakeFailed as exc:
                    failed_in_a_row += 1
                    log.error(
                        "IMAP mail UID %s in %s on %s could not be stored, it stays unseen and is "
                        "tried again in the next poll: %s",
                        uid, s.folder, s.server, exc.reason,
                        exc_info=exc.__cause__,
                    )
                    if failed_in_a_row >= _MAX_FAILED_IN_A_ROW:
                        log.error("IMAP %s/%s: stopping this poll after %d failures in a row", s.server, s.folder, failed_in_a_row)
                        break
                    continue
                failed_in_a_row = 0
                if outcome == "stored":
                    stored += 1
            log.info("IMAP %s/%s: %d new mail(s), %d stored", s.server, s.folder, len(uids), stored)
            return stored
        except ImapError as exc:
            log.error("%s", exc)
            return stored
        except (imaplib.IMAP4.abort, OSError) as exc:  # the connection broke mid-poll
            log.error(
                "IMAP connection to %s broke during the poll (%s); %d mail(s) stored, the rest "
                "are fetched in the next poll",
                s.server, one_line(str(exc) or type(exc).__name__), stored,
            )
            return stored
        except imaplib.IMAP4.error as exc:  # the server said BAD/NO to something unexpected
            log.error(
                "IMAP server %s answered unexpectedly (%s); %d mail(s) stored, the rest are "
                "fetched in the next poll",
                s.server, one_line(str(exc)), stored,
            )
            return stored
        finally:
            if conn is not None:
                _logout(conn)

    # ------------------------------------------------------------ one mail

    def _take(self, conn: imaplib.IMAP4, uid: str) -> str:
        """Fetch, parse, store and mark one mail: "stored", "duplicate", "ignored", "malformed" or "gone"."""
        s = self.settings
        fetched = self._fetch(conn, uid)
        if fetched is None:
            log.info("IMAP mail UID %s in %s on %s vanished before it was fetched", uid, s.folder, s.server)
            return "gone"
        raw, received_at = fetched
        try:
            message = self.read(raw, received_at)
        except MalformedEmail as exc:
            self._mark_malformed(conn, uid)
            log.warning(
                "IMAP mail UID %s in %s on %s is not a usable email and was flagged (\\Flagged, "
                "\\Seen) instead of made a ticket: %s",
                uid, s.folder, s.server, exc,
            )
            return "malformed"
        try:
            result = tickets.intake(self.ctx, message)
        except Exception as exc:
            raise _IntakeFailed(f"{type(exc).__name__}: {one_line(str(exc))}") from exc
        # Stored: only now may the server forget that we still have to read it.
        self._mark_seen(conn, uid)
        if result.ignored:
            log.info("IMAP mail UID %s from %s ignored (%s): %s; marked seen",
                     uid, message.sender_email, result.ignored, result.reason)
            return "ignored"
        if result.duplicate:
            log.info(
                "IMAP mail UID %s (%s) was stored before, as message %s of ticket #%s; marked seen",
                uid, message.email_message_id, result.message_id, result.ticket_id,
            )
            return "duplicate"
        log.info(
            "IMAP mail UID %s from %s stored in ticket #%s%s",
            uid, message.sender_email, result.ticket_id, " (new)" if result.new_ticket else "",
        )
        return "stored"

    def _fetch(self, conn: imaplib.IMAP4, uid: str) -> tuple[bytes, datetime | None] | None:
        typ, data = conn.uid("FETCH", uid, "(INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            raise ImapError(
                f"IMAP server {self.settings.server} would not hand out mail UID {uid}: {_said(data)}"
            )
        for item in data or ():
            if isinstance(item, tuple) and len(item) == 2 and b"BODY[]" in item[0].upper():
                if not re.search(rb"\bUID\s+" + uid.encode() + rb"\b", item[0], re.I):
                    continue  # an unsolicited answer about another mail
                return item[1] or b"", _internaldate(item[0])
        return None

    def _mark_seen(self, conn: imaplib.IMAP4, uid: str) -> None:
        self._store(conn, uid, r"(\Seen)")

    def _mark_malformed(self, conn: imaplib.IMAP4, uid: str) -> None:
        self._store(conn, uid, r"(\Flagged \Seen)")

    def _store(self, conn: imaplib.IMAP4, uid: str, flags: str) -> None:
        typ, data = conn.uid("STORE", uid, "+FLAGS", flags)
        if typ != "OK":
            raise ImapError(
                f"IMAP server {self.settings.server} did not let {self.settings.username} set "
                f"{flags} on mail UID {uid} in {self.settings.folder}: {_said(data)} — check that "
                "the user may change flags in that folder (it is not read-only)"
            )

    # ------------------------------------------------------------ session

    def _connect(self) -> imaplib.IMAP4:
        s = self.settings
        check = "check IMAP_URL's host and port (imaps:// is usually port 993, imap:// port 143)"
        try:
            if s.use_tls:
                context = self.ssl_context or ssl.create_default_context()
                conn = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=self.timeout)
            else:
                conn = imaplib.IMAP4(s.host, s.port, timeout=self.timeout)
        except ConnectionRefusedError:
            raise ImapError(f"IMAP server {s.server} refused the connection — {check}") from None
        except socket.gaierror as exc:
            raise ImapError(
                f"IMAP server {s.server} could not be found (unknown host {s.host!r}: {exc.strerror or exc}) "
                "— check IMAP_URL's host"
            ) from None
        except (TimeoutError, socket.timeout):
            raise ImapError(
                f"IMAP server {s.server} did not answer within {self.timeout:g} s — {check}, and "
                "that no firewall is in the way"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise ImapError(
                f"IMAP server {s.server}: its TLS certificate is not trusted "
                f"({one_line(exc.verify_message or str(exc))}) — check that IMAP_URL names the host "
                "the certificate is for"
            ) from None
        except ssl.SSLError as exc:
            raise ImapError(
                f"TLS with IMAP server {s.server} failed ({one_line(str(exc))}) — imaps:// needs a "
                "port that speaks TLS from the start (usually 993); for port 143 use "
                "imap://…:143/INBOX?starttls=true"
            ) from None
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapError(
                f"IMAP server {s.server} could not be reached ({one_line(str(exc) or type(exc).__name__)}) — {check}"
            ) from None
        if s.start_tls:
            try:
                conn.starttls(self.ssl_context or ssl.create_default_context())
            except ssl.SSLCertVerificationError as exc:
                _logout(conn)
                raise ImapError(
                    f"IMAP server {s.server}: its TLS certificate is not trusted "
                    f"({one_line(exc.verify_message or str(exc))}) — check that IMAP_URL names the "
                    "host the certificate is for"
                ) from None
            except (imaplib.IMAP4.error, ssl.SSLError, OSError) as exc:
                _logout(conn)
                if "STARTTLS" not in conn.capabilities:
                    raise ImapError(
                        f"IMAP server {s.server} does not offer STARTTLS, but IMAP_URL asks for it "
                        "(starttls=true) — use imaps:// with the server's TLS port (usually 993) "
                        "or drop starttls=true"
                    ) from None
                raise ImapError(f"STARTTLS with IMAP server {s.server} failed ({one_line(str(exc))})") from None
        return conn

    def _login(self, conn: imaplib.IMAP4) -> None:
        s = self.settings
        where = f"IMAP login to {s.server} as {s.username}"
        if "LOGINDISABLED" in conn.capabilities and "AUTH=PLAIN" not in conn.capabilities:
            raise ImapError(
                f"{where} is not possible: the server does not allow logging in on an unencrypted "
                "connection — use imaps:// or add ?starttls=true to IMAP_URL"
            )
        try:
            if s.username.isascii() and s.password.isascii() and "LOGINDISABLED" not in conn.capabilities:
                conn.login(_quote(s.username), s.password)  # login() quotes only the password
            elif "AUTH=PLAIN" in conn.capabilities:
                secret = f"\0{s.username}\0{s.password}".encode("utf-8")
                conn.authenticate("PLAIN", lambda _challenge: secret)
            else:
                raise ImapError(
                    f"{where} is not possible: the user name or password has non-ASCII characters "
                    "and the server offers no AUTH=PLAIN to send them"
                )
        except imaplib.IMAP4.error as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise ImapError(f"{where} failed: the server closed the connection ({one_line(str(exc))})") from None
            raise ImapError(f"{where} failed: {_said(exc)} — check IMAP_URL's user and password") from None

    def _select(self, conn: imaplib.IMAP4) -> None:
        s = self.settings
        read_only = (
            f"IMAP folder {s.folder!r} on {s.server} is read-only for {s.username}, so Pitchin "
            "cannot mark the mails it took — check the user's rights on that folder"
        )
        try:
            typ, data = conn.select(_mailbox(s.folder))
        except imaplib.IMAP4.readonly:  # imaplib's own check of the [READ-ONLY] answer
            raise ImapError(read_only) from None
        if typ != "OK":
            raise ImapError(
                f"IMAP folder {s.folder!r} on {s.server} could not be opened as {s.username}: "
                f"{_said(data)} — check the folder at the end of IMAP_URL (names other than INBOX "
                "are case-sensitive; INBOX is the default)"
            )
        if conn.is_readonly or "READ-ONLY" in conn.untagged_responses:
            raise ImapError(read_only)

    def _unseen(self, conn: imaplib.IMAP4) -> list[str]:
        typ, data = conn.uid("SEARCH", "UNSEEN")
        if typ != "OK":
            raise ImapError(f"IMAP server {self.settings.server} would not search {self.settings.folder}: {_said(data)}")
        uids: list[str] = []
        for chunk in data or ():
            if isinstance(chunk, bytes):
                uids.extend(u.decode() for u in chunk.split() if u.isdigit())
        return sorted(set(uids), key=int)  # oldest first, so a conversation arrives in order


class _IntakeFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- helpers


def _logout(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except Exception:
        try:
            conn.shutdown()
        except Exception:
            pass


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailbox(name: str) -> str:
    """A folder name as an IMAP argument: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            b64 = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return _quote("".join(out))


def _internaldate(header: bytes) -> datetime | None:
    """When the server received the mail (INTERNALDATE), as an aware UTC datetime."""
    try:
        tt = imaplib.Internaldate2tuple(header)
    except Exception:
        tt = None
    if tt is None:
        return None
    return datetime.fromtimestamp(time.mktime(tt), timezone.utc)


def _said(data) -> str:
    """What the server said in a NO/BAD answer or an imaplib error, as one short line."""
    if isinstance(data, BaseException):
        data = data.args[0] if data.args else str(data)
    if isinstance(data, (list, tuple)):
        data = b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data if d is not None)
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    text = str(data)
    if text.startswith("b'") or text.startswith('b"'):  # imaplib puts repr(bytes) into its errors
        text = text[2:-1]
    return one_line(text) or "no reason given"



def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
