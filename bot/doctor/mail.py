"""`pitchin doctor`, mail: the SMTP server replies go through (SMTP_URL) and the mailbox polled for
customer mail (IMAP_URL).

SMTP: connect (TLS from the first byte for smtps://, STARTTLS for ?starttls=true), log in when the
URL has a user, and send one test mail only when asked (``send_to``: `pitchin doctor --send-to`).
IMAP: connect, log in, open the folder, as a poll does (``ImapPoller.check``); no mail is read.
Both read their URL as the app does (``parse_smtp_url``, ``parse_imap_url``). Every network step
has a timeout of a few seconds, and every failure is a ✗ with what to do, never an exception.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from bot.config import Settings
from bot.doctor.result import Check
from bot.inbox.email import SmtpSettings, parse_smtp_url
from bot.inbox.imap import ImapError, ImapPoller, parse_imap_url
from bot.one_line import one_line

TIMEOUT = 5.0  # seconds for connecting and for each answer of a server
PORTS_HINT = "smtps:// is usually port 465, smtp://…?starttls=true port 587"
UNTRUSTED_ADVICE = ("check that the URL names the host the certificate is for; a certificate of your own "
                    "certificate authority needs that authority in the system's trust store (or SSL_CERT_FILE)")


async def checks(settings: Settings, send_to: str | None = None) -> list[Check]:
    return [*await smtp_checks(settings, send_to), *await imap_checks(settings)]


# ---------------------------------------------------------------- SMTP


async def smtp_checks(settings: Settings, send_to: str | None = None) -> list[Check]:
    if not settings.smtp_url:
        return [Check("SMTP", "mail server", ok=True, skipped=True,
                      detail=f"not configured (SMTP_URL is not set): replies are written to {settings.maildir}/")]
    try:
        s = parse_smtp_url(settings.smtp_url)
    except ValueError as exc:
        return [Check("SMTP", "SMTP_URL", ok=False, detail=str(exc).partition("; e.g.")[0],
                      advice="e.g." + str(exc).partition("; e.g.")[2])]
    server = f"{s.host}:{s.port}"
    found: list[Check] = []
    client = aiosmtplib.SMTP(hostname=s.host, port=s.port, use_tls=s.use_tls, start_tls=False, timeout=TIMEOUT)
    try:
        found.append(await _smtp_connect(client, s, server))
        if not found[-1].ok:
            return found
        if not s.use_tls and not s.start_tls and not _is_loopback(s.host):
            found.append(_unencrypted("SMTP", server, "replies and the password in SMTP_URL",
                                      "use smtps:// (port 465) or add ?starttls=true (port 587) to SMTP_URL"))
        if s.username is not None:
            found.append(await _smtp_login(client, s, server))
            if not found[-1].ok:
                return found
        else:
            found.append(Check("SMTP", "login", ok=True, skipped=True,
                               detail="SMTP_URL has no user: mail is sent without logging in"))
        found.append(await _smtp_test_mail(client, settings, server, send_to))
        return found
    finally:
        if client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), TIMEOUT)
            except Exception:  # already said what matters; a rude goodbye changes nothing
                client.close()


async def _smtp_connect(client: aiosmtplib.SMTP, s: SmtpSettings, server: str) -> Check:
    how = "TLS" if s.use_tls else "STARTTLS" if s.start_tls else "no encryption"
    name = f"connect ({how})"
    step = "connect"
    try:
        await client.connect()
        if s.start_tls:
            step = "STARTTLS"
            await client.starttls()
    except Exception as exc:
        detail, advice = _smtp_trouble(exc, s, server, step)
        return Check("SMTP", name, ok=False, detail=detail, advice=advice)
    tls = client.transport.get_extra_info("ssl_object") if client.transport is not None else None
    version = f", {tls.version()}" if tls is not None else ""
    return Check("SMTP", name, ok=True, detail=f"{server} answered{version}")


async def _smtp_login(client: aiosmtplib.SMTP, s: SmtpSettings, server: str) -> Check:
    name = f"login as {s.username}"
    try:
        await client.login(s.username, s.password or "")
    except Exception as exc:
        detail, advice = _smtp_trouble(exc, s, server, "login")
        return Check("SMTP", name, ok=False, detail=detail, advice=advice)
    return Check("SMTP", name, ok=True, detail=f"{server} accepted the password")


async def _smtp_test_mail(client: aiosmtplib.SMTP, settings: Settings, server: str, send_to: str | None) -> Check:
    if not send_to:
        return Check("SMTP", "test mail", ok=True, skipped=True,
                     detail="none sent (`pitchin doctor --send-to ADDRESS` sends one)")
    name = f"test mail to {send_to}"
    if not settings.from_email:
        return Check("SMTP", name, ok=False, detail="PITCHIN_FROM_EMAIL is not set",
                     advice="set PITCHIN_FROM_EMAIL to the address replies come from")
    message = EmailMessage()
    message["From"] = settings.from_email
    message["To"] = send_to
    message["Subject"] = "Pitchin test mail"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid("doctor", domain=settings.mail_domain)
    message.set_content(f"This mail was sent by `pitchin doctor --send-to {send_to}` through {server}, to "
                        "show that replies to customers can go out. Nothing needs to be done with it.\n")
    try:
        await client.send_message(message, sender=settings.from_email, recipients=[send_to])
    except Exception as exc:
        detail, advice = _smtp_trouble(exc, None, server, "send", settings.from_email, send_to)
        return Check("SMTP", name, ok=False, detail=detail, advice=advice)
    return Check("SMTP", name, ok=True,
                 detail=f"sent from {settings.from_email}; {server} took it (see that it arrives)")


def _smtp_trouble(exc: Exception, s: SmtpSettings | None, server: str, step: str,
                  sender: str = "", recipient: str = "") -> tuple[str, str]:
    """(what happened, what to do) for an SMTP failure at ``step``."""
    where = f"mail server {server}"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    cause = exc.__cause__ if isinstance(exc, aiosmtplib.SMTPConnectError) and exc.__cause__ else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (f"{where}: its TLS certificate is not trusted ({one_line(cause.verify_message or str(cause))})",
                UNTRUSTED_ADVICE.replace("the URL", "SMTP_URL"))
    if isinstance(cause, ssl.SSLError) or (step == "connect" and s is not None and s.use_tls
                                           and isinstance(exc, aiosmtplib.SMTPConnectError)
                                           and not isinstance(cause, (ConnectionRefusedError, socket.gaierror,
                                                                      TimeoutError))):
        return (f"{where} refused TLS ({one_line(str(cause))})",
                "smtps:// needs a port that speaks TLS from the start (usually 465); for port 587 use "
                "smtp://…:587?starttls=true")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError) or isinstance(cause, TimeoutError):
        return (f"{where} did not answer within {TIMEOUT:g} s",
                f"check SMTP_URL's host and port ({PORTS_HINT}) and that no firewall is in the way")
    if isinstance(cause, ConnectionRefusedError):
        return (f"{where} refused the connection (nothing listens there)",
                f"check SMTP_URL's host and port ({PORTS_HINT}) and that the mail server runs")
    if isinstance(cause, socket.gaierror):
        return f"{where} could not be found (unknown host)", "check the host name in SMTP_URL"
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 530 and step == "login":
        return (f"{where} wants STARTTLS before a login: {exc.code} {one_line(exc.message)}",
                "add ?starttls=true to SMTP_URL (or use smtps:// on the server's TLS port)")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return (f"{where} refused the login: {exc.code} {one_line(exc.message)}",
                "check the user and password in SMTP_URL (percent-encode @ and : in them, e.g. %40)")
    if isinstance(exc, aiosmtplib.SMTPException) and "STARTTLS extension" in str(exc):
        return (f"{where} does not offer STARTTLS, but SMTP_URL asks for it",
                "use the server's TLS port with smtps:// (usually 465), or drop starttls=true")
    if isinstance(exc, aiosmtplib.SMTPException) and "AUTH extension" in str(exc):
        return (f"{where} offers no login on this connection, but SMTP_URL has a user",
                "use smtps:// or add ?starttls=true (many servers offer a login only after TLS), or remove "
                "user:password from SMTP_URL")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return (f"{where} refused the From address {sender}: {exc.code} {one_line(exc.message)}",
                "set PITCHIN_FROM_EMAIL to an address the SMTP_URL user may send from")
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return (f"{where} refused the recipient {recipient}: {exc.code} {one_line(exc.message)}",
                "try another --send-to address; a relay may accept only its own domains")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{where} answered {exc.code} {one_line(exc.message)} during the {step}", "see the server's answer"
    return (f"{where} failed during the {step}: {one_line(str(exc) or type(exc).__name__)}",
            f"check SMTP_URL ({PORTS_HINT})")


# ---------------------------------------------------------------- IMAP

IMAP_STAGES = ("connect", "login", "folder")


async def imap_checks(settings: Settings) -> list[Check]:
    if not settings.imap_url:
        return [Check("IMAP", "mailbox", ok=True, skipped=True,
                      detail="not configured (IMAP_URL is not set): customer mail comes only by /intake/email")]
    try:
        s = parse_imap_url(settings.imap_url)
    except ValueError as exc:
        detail, _, example = str(exc).partition("; e.g.")
        return [Check("IMAP", "IMAP_URL", ok=False, detail=detail, advice="e.g." + example)]
    how = "TLS" if s.use_tls else "STARTTLS" if s.start_tls else "no encryption"
    names = {"connect": f"connect ({how})", "login": f"login as {s.username}",
             "folder": f"mailbox {s.folder} exists"}
    passed = {"connect": f"{s.server} answered", "login": f"{s.server} accepted the password",
              "folder": f"{s.folder} opened for reading and writing"}
    failed: ImapError | None = None
    try:
        poller = ImapPoller(settings.imap_url, None, timeout=TIMEOUT)
        # each step waits at most TIMEOUT on the socket; this bounds the whole in case of a slow trickle
        await asyncio.wait_for(asyncio.to_thread(poller.check), 4 * TIMEOUT)
    except ImapError as exc:
        failed = exc
    except Exception as exc:  # a timeout of the whole, or a bug: still a line, not a traceback
        failed = ImapError(f"IMAP server {s.server} did not finish the check: {one_line(str(exc) or type(exc).__name__)}"
                           " — check IMAP_URL's host and port (imaps:// is usually 993, imap:// 143)")
        failed.stage = "connect"
    found: list[Check] = []
    for stage in IMAP_STAGES:
        if failed is not None and failed.stage == stage:
            detail, _, advice = str(failed).partition(" — ")
            found.append(Check("IMAP", names[stage], ok=False, detail=detail,
                               advice=advice or "check IMAP_URL"))
            break
        found.append(Check("IMAP", names[stage], ok=True, detail=passed[stage]))
        if stage == "connect" and not s.use_tls and not s.start_tls and not _is_loopback(s.host):
            found.append(_unencrypted("IMAP", s.server, "the password in IMAP_URL and customers' mail",
                                      "use imaps:// (port 993) or add ?starttls=true to IMAP_URL"))
    return found


# ---------------------------------------------------------------- shared


def _unencrypted(area: str, server: str, what: str, advice: str) -> Check:
    return Check(area, "encryption", ok=False, needed=False, detail=f"none: {what} cross the network to {server} "
                                                                    "readable by anyone on the way", advice=advice)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


