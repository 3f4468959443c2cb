"""`pitchin doctor`, mail: SMTP against a real aiosmtpd on 127.0.0.1 (plain, STARTTLS, TLS, with and
without a login) and IMAP against a private dovecot — each ✓ and each ✗ with what to do. The servers'
certificates are trusted as an admin trusts a private authority: through SSL_CERT_FILE."""

from __future__ import annotations

import socket

import pytest

from bot.config import Settings
from bot.doctor import mail
from tests.fakes.imap import DOVECOT_MISSING, DovecotServer, dovecot_available
from tests.fakes.smtp import SmtpSink

FROM = "support@acme.test"
USER, PASSWORD = "pitchin", "p@ss:word"


def by_name(found, start: str):
    (check,) = [c for c in found if c.name.startswith(start)]
    return check


def smtp_settings(url: str) -> Settings:
    return Settings(smtp_url=url, from_email=FROM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for localhost and 127.0.0.1: (server context, its PEM file)."""
    pytest.importorskip("cryptography")
    import ssl

    from tests.fakes.tls import self_signed_pem

    cert_pem, key_pem = self_signed_pem()
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key_pem)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return server, folder / "cert.pem"


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


@pytest.fixture
def auth_sink():
    with SmtpSink(credentials=(USER, PASSWORD)) as server:
        yield server


# ---------------------------------------------------------------- SMTP


async def test_without_smtp_url_smtp_is_skipped():
    found = await mail.smtp_checks(Settings(maildir="replies"))
    assert [(c.skipped, c.area) for c in found] == [(True, "SMTP")]
    assert "SMTP_URL is not set" in found[0].line() and "replies/" in found[0].line()


async def test_plain_relay_connects_and_no_mail_is_sent_without_send_to(sink):
    found = await mail.smtp_checks(smtp_settings(sink.url))
    assert [c.line() for c in found] == [
        f"✓ SMTP: connect (no encryption) — {sink.address} answered",
        "– SMTP: login — SMTP_URL has no user: mail is sent without logging in",
        "– SMTP: test mail — none sent (`pitchin doctor --send-to ADDRESS` sends one)",
    ]
    assert sink.messages == []  # the session ended with QUIT: a mail would have been recorded by now


async def test_login_with_the_right_password(auth_sink):
    found = await mail.smtp_checks(smtp_settings(auth_sink.url))
    login = by_name(found, "login")
    assert login.ok and login.name == f"login as {USER}" and "accepted the password" in login.detail
    assert auth_sink.failed_logins == [] and auth_sink.messages == []


async def test_wrong_password_says_to_check_the_url(auth_sink):
    url = auth_sink.url.replace("p%40ss%3Aword", "wrong")
    found = await mail.smtp_checks(smtp_settings(url))
    login = by_name(found, "login")
    assert not login.ok and login.needed
    assert login.detail.startswith(f"mail server {auth_sink.address} refused the login: 535")
    assert "check the user and password in SMTP_URL" in login.advice
    assert set(auth_sink.failed_logins) == {(USER, "wrong")}  # the URL's user (aiosmtplib tries PLAIN, then LOGIN)
    assert [c.name for c in found] == ["connect (no encryption)", f"login as {USER}"]  # nothing after it


async def test_nothing_listening_is_a_refused_connection():
    port = free_port()
    (check,) = await mail.smtp_checks(smtp_settings(f"smtp://127.0.0.1:{port}"))
    assert not check.ok and check.detail == f"mail server 127.0.0.1:{port} refused the connection (nothing listens there)"
    assert "check SMTP_URL's host and port" in check.advice and "465" in check.advice


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
async def test_tls_with_login(certificate, monkeypatch, mode):
    server_tls, cert_file = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    with SmtpSink(tls=mode, server_tls=server_tls, credentials=(USER, PASSWORD)) as tls_sink:
        found = await mail.smtp_checks(smtp_settings(tls_sink.url))
        connect = found[0]
        assert connect.ok, connect.line()
        assert connect.name == ("connect (TLS)" if mode == "implicit" else "connect (STARTTLS)")
        assert "TLSv1." in connect.detail
        assert by_name(found, "login").ok
        assert tls_sink.messages == []


async def test_untrusted_certificate_is_refused_with_advice(certificate, monkeypatch, tmp_path):
    server_tls, _ = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))  # trusts nothing, as a fresh machine
    with SmtpSink(tls="implicit", server_tls=server_tls) as tls_sink:
        (check,) = await mail.smtp_checks(smtp_settings(tls_sink.url))
    assert not check.ok and "its TLS certificate is not trusted" in check.detail
    assert "names the host the certificate is for" in check.advice and "SSL_CERT_FILE" in check.advice


async def test_smtps_to_a_plain_port_says_tls_was_refused(sink):
    (check,) = await mail.smtp_checks(smtp_settings(f"smtps://{sink.address}"))
    assert not check.ok and check.detail.startswith(f"mail server {sink.address} refused TLS")
    assert "smtp://…:587?starttls=true" in check.advice


async def test_starttls_asked_of_a_server_without_it(sink):
    (check,) = await mail.smtp_checks(smtp_settings(sink.url + "?starttls=true"))
    assert not check.ok and check.name == "connect (STARTTLS)"
    assert "does not offer STARTTLS" in check.detail and "smtps://" in check.advice


async def test_login_before_starttls_on_a_server_that_wants_it(certificate, monkeypatch):
    server_tls, cert_file = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    with SmtpSink(tls="starttls", server_tls=server_tls, credentials=(USER, PASSWORD)) as tls_sink:
        found = await mail.smtp_checks(smtp_settings(tls_sink.url.replace("?starttls=true", "")))
    login = by_name(found, "login")
    assert not login.ok and "wants STARTTLS before a login: 530" in login.detail
    assert "add ?starttls=true to SMTP_URL" in login.advice


async def test_send_to_sends_exactly_one_mail_that_arrives(auth_sink):
    found = await mail.smtp_checks(smtp_settings(auth_sink.url), send_to="admin@acme.test")
    sent = by_name(found, "test mail")
    assert sent.ok and sent.name == "test mail to admin@acme.test"
    assert sent.detail == f"sent from {FROM}; {auth_sink.address} took it (see that it arrives)"
    (received,) = await auth_sink.wait_for(1)
    assert received.rcpt_tos == ["admin@acme.test"] and received.mail_from == FROM and received.login == USER
    assert received["Subject"] == "Pitchin test mail" and "pitchin doctor --send-to" in received.text
    assert len(auth_sink.messages) == 1  # the session is over (QUIT answered): no second mail can come


async def test_a_refused_recipient_is_a_cross(sink):
    sink.reject("nobody@acme.test")
    sent = by_name(await mail.smtp_checks(smtp_settings(sink.url), send_to="nobody@acme.test"), "test mail")
    assert not sent.ok and "refused the recipient nobody@acme.test: 550" in sent.detail
    assert sink.messages == []


# ---------------------------------------------------------------- IMAP


@pytest.fixture(scope="module")
def dovecot():
    if not dovecot_available():
        pytest.skip(DOVECOT_MISSING)
    server = DovecotServer(tls=True).start()
    try:
        yield server
    finally:
        server.stop()


async def test_without_imap_url_imap_is_skipped():
    (check,) = await mail.imap_checks(Settings())
    assert check.skipped and "IMAP_URL is not set" in check.detail


async def test_imap_login_and_mailbox(dovecot):
    found = await mail.imap_checks(Settings(imap_url=dovecot.url()))
    assert [c.line() for c in found] == [
        f"✓ IMAP: connect (no encryption) — {dovecot.host}:{dovecot.port} answered",
        f"✓ IMAP: login as {dovecot.user} — {dovecot.host}:{dovecot.port} accepted the password",
        "✓ IMAP: mailbox INBOX exists — INBOX opened for reading and writing",
    ]


async def test_imaps_with_a_trusted_certificate(dovecot, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.dir / "cert.pem"))
    found = await mail.imap_checks(Settings(imap_url=dovecot.url(scheme="imaps")))
    assert [c.ok for c in found] == [True, True, True], [c.line() for c in found]
    assert found[0].name == "connect (TLS)"


async def test_imap_wrong_password(dovecot):
    found = await mail.imap_checks(Settings(imap_url=dovecot.url(password="wrong")))
    assert [c.ok for c in found] == [True, False]
    login = found[1]
    assert login.needed and "AUTHENTICATIONFAILED" in login.detail
    assert login.advice == "check IMAP_URL's user and password"


async def test_imap_missing_mailbox(dovecot):
    found = await mail.imap_checks(Settings(imap_url=dovecot.url("Support")))
    assert [c.ok for c in found] == [True, True, False]
    folder = found[2]
    assert folder.name == "mailbox Support exists" and "could not be opened" in folder.detail
    assert "check the folder at the end of IMAP_URL" in folder.advice


async def test_imap_nothing_listening():
    port = free_port()
    (check,) = await mail.imap_checks(Settings(imap_url=f"imap://u:p@127.0.0.1:{port}/INBOX"))
    assert not check.ok and check.detail == f"IMAP server 127.0.0.1:{port} refused the connection"
    assert "check IMAP_URL's host and port" in check.advice


async def test_mail_checks_list_smtp_then_imap(sink, dovecot):
    found = await mail.checks(Settings(smtp_url=sink.url, from_email=FROM, imap_url=dovecot.url()))
    assert [c.area for c in found] == ["SMTP"] * 3 + ["IMAP"] * 3 and all(c.ok for c in found)


@pytest.fixture
def silent_port():
    """A port that takes connections (the kernel's backlog) but never says a word, as a blackholed relay."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


async def test_a_silent_smtp_server_times_out_with_advice(silent_port, monkeypatch):
    monkeypatch.setattr(mail, "TIMEOUT", 0.5)
    (check,) = await mail.smtp_checks(smtp_settings(f"smtp://127.0.0.1:{silent_port}"))
    assert not check.ok and check.detail == f"mail server 127.0.0.1:{silent_port} did not answer within 0.5 s"
    assert "no firewall is in the way" in check.advice


async def test_a_silent_imap_server_times_out_with_advice(silent_port, monkeypatch):
    monkeypatch.setattr(mail, "TIMEOUT", 0.5)
    (check,) = await mail.imap_checks(Settings(imap_url=f"imap://u:p@127.0.0.1:{silent_port}/INBOX"))
    assert not check.ok and "did not answer within 0.5 s" in check.detail
    assert "no firewall is in the way" in check.advice
