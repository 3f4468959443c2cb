"""ImapPoller against a real IMAP server: a private Dovecot (tests/fakes/imap.py)."""

from __future__ import annotations

import inspect
import logging
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import make_msgid

import pytest
from sqlmodel import select

from bot.inbox import imap as imap_module
from bot.inbox.imap import ImapPoller, parse_imap_url
from storage.models import Ticket, TicketMessage
from tests.fakes.imap import DOVECOT_MISSING, DovecotServer, dovecot_available, free_port


# ---------------------------------------------------------------- fixtures and helpers


def _server(**kwargs):
    if not dovecot_available():
        pytest.skip(DOVECOT_MISSING)
    server = DovecotServer(**kwargs).start()
    return server


@pytest.fixture(scope="module")
def dovecot():
    """One dovecot for the module; every test gets its own mailbox user (``mailbox``)."""
    server = _server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dovecot_tls():
    pytest.importorskip("cryptography")
    server = _server(tls=True)
    try:
        yield server
    finally:
        server.stop()


class Mailbox:
    """One user's mailbox on a test dovecot."""

    def __init__(self, server: DovecotServer, user: str, password: str):
        self.server, self.user, self.password = server, user, password
        server.add_user(user, password)

    def deliver(self, raw: bytes, folder: str = "INBOX", **kwargs) -> int:
        return self.server.deliver(raw, folder, user=self.user, **kwargs)

    def flags(self, uid: int, folder: str = "INBOX") -> set[str]:
        return self.server.flags(uid, folder, user=self.user)

    def unseen(self, folder: str = "INBOX") -> list[int]:
        return self.server.unseen(folder, user=self.user)

    def url(self, folder: str = "INBOX", **kwargs) -> str:
        kwargs.setdefault("password", self.password)
        return self.server.url(folder, user=self.user, **kwargs)


def _new_mailbox(server: DovecotServer, password: str = "s3cret") -> Mailbox:
    return Mailbox(server, f"support-{uuid.uuid4().hex[:10]}", password)


@pytest.fixture
def mailbox(dovecot) -> Mailbox:
    return _new_mailbox(dovecot)


@pytest.fixture
def imap_log(caplog):
    caplog.set_level(logging.DEBUG, logger="pitchin.imap")
    return caplog


def mail(sender: str, subject: str, body: str = "Hello, I need help.", *, message_id: str | None = None,
         in_reply_to: str | None = None) -> tuple[bytes, str]:
    message_id = message_id or make_msgid(domain="customer.test")
    lines = [
        f"From: {sender}",
        "To: support@example.test",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Date: Mon, 03 Mar 2025 10:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8"), message_id


def tickets(ctx) -> list[Ticket]:
    with ctx.db.transaction() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)).all())


def messages(ctx) -> list[TicketMessage]:
    with ctx.db.transaction() as session:
        return list(session.exec(select(TicketMessage).order_by(TicketMessage.id)).all())


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pitchin.imap" and r.levelno >= logging.ERROR]


def warnings_(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pitchin.imap" and r.levelno == logging.WARNING]


# ---------------------------------------------------------------- polling


def test_poll_is_a_coroutine_method_for_the_scheduler():
    assert inspect.iscoroutinefunction(ImapPoller.poll)


async def test_two_mails_become_two_tickets_and_are_marked_seen(ctx, mailbox):
    raw1, _ = mail("Ann Customer <ann@customer.test>", "Printer on fire")
    raw2, _ = mail("bob@customer.test", "Cannot log in")
    uid1, uid2 = mailbox.deliver(raw1), mailbox.deliver(raw2)
    assert mailbox.unseen() == [uid1, uid2]

    poller = ImapPoller(mailbox.url(), ctx)
    assert await poller.poll() == 2

    got = tickets(ctx)
    assert [(t.subject, t.customer_email, t.source) for t in got] == [
        ("Printer on fire", "ann@customer.test", "email"),
        ("Cannot log in", "bob@customer.test", "email"),
    ]
    assert got[0].customer_name == "Ann Customer"
    assert [m.text for m in messages(ctx)] == ["Hello, I need help.", "Hello, I need help."]
    assert mailbox.flags(uid1) == {"\\Seen"}
    assert mailbox.flags(uid2) == {"\\Seen"}
    assert mailbox.unseen() == []

    # Nothing new: polling again stores nothing.
    assert await poller.poll() == 0
    assert len(tickets(ctx)) == 2


async def test_only_new_mail_is_taken_on_the_next_poll(ctx, mailbox):
    poller = ImapPoller(mailbox.url(), ctx)
    assert await poller.poll() == 0  # an empty mailbox is fine
    first, first_id = mail("ann@customer.test", "VPN down")
    mailbox.deliver(first)
    assert await poller.poll() == 1
    reply, _ = mail("ann@customer.test", "Re: VPN down", "Still down.", in_reply_to=first_id)
    other, _ = mail("carl@customer.test", "New laptop")
    mailbox.deliver(reply)
    mailbox.deliver(other)
    assert await poller.poll() == 2
    # The follow-up joined Ann's ticket; Carl's mail opened a second one.
    assert [(t.subject, t.customer_email) for t in tickets(ctx)] == [
        ("VPN down", "ann@customer.test"),
        ("New laptop", "carl@customer.test"),
    ]
    assert [m.text for m in messages(ctx) if m.ticket_id == tickets(ctx)[0].id] == ["Hello, I need help.", "Still down."]


async def test_the_ticket_is_dated_when_the_server_received_the_mail(ctx, mailbox):
    # Pitchin was down for a while: the ticket still shows when the customer wrote.
    received = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    raw, _ = mail("ann@customer.test", "Waited three hours")
    mailbox.deliver(raw, received_at=received)
    assert await ImapPoller(mailbox.url(), ctx).poll() == 1
    [ticket] = tickets(ctx)
    created = ticket.created_at if ticket.created_at.tzinfo else ticket.created_at.replace(tzinfo=timezone.utc)
    assert created == received


async def test_a_mail_already_read_by_someone_else_is_not_taken(ctx, mailbox):
    raw, _ = mail("ann@customer.test", "Read in a mail client")
    uid = mailbox.deliver(raw)
    conn = mailbox.server.connect(mailbox.user)
    try:
        conn.select("INBOX")
        conn.uid("STORE", str(uid), "+FLAGS", r"(\Seen)")
    finally:
        conn.logout()
    assert await ImapPoller(mailbox.url(), ctx).poll() == 0
    assert tickets(ctx) == []


class CrashBeforeStore(ImapPoller):
    """Dies right after intake stored the mail, before the server is told it was seen."""

    def _mark_seen(self, conn, uid):
        raise RuntimeError("power cut between intake and STORE")


async def test_crash_between_intake_and_store_fetches_again_without_a_second_ticket(ctx, mailbox, imap_log):
    raw, message_id = mail("ann@customer.test", "Crash test")
    uid = mailbox.deliver(raw)

    assert await CrashBeforeStore(mailbox.url(), ctx).poll() == 0  # poll never raises
    assert len(tickets(ctx)) == 1  # intake had stored it
    assert mailbox.flags(uid) == set()  # …but the server still has it unseen
    assert any("power cut" in r.getMessage() or "power cut" in (r.exc_text or "") for r in imap_log.records)

    poller = ImapPoller(mailbox.url(), ctx)
    assert await poller.poll() == 0  # fetched again, recognised by its Message-ID: nothing new stored
    assert len(tickets(ctx)) == 1
    assert [m.email_message_id for m in messages(ctx)] == [message_id]
    assert mailbox.flags(uid) == {"\\Seen"}
    assert any(f"UID {uid}" in m and "stored before" in m for m in [r.getMessage() for r in imap_log.records])
    assert await poller.poll() == 0


async def test_fetching_alone_does_not_mark_a_mail_seen(ctx, mailbox, monkeypatch):
    raw, _ = mail("ann@customer.test", "Peek only")
    uid = mailbox.deliver(raw)
    seen_during_intake = []
    real_intake = imap_module.tickets.intake

    def spying_intake(ctx_, message):
        seen_during_intake.append(mailbox.flags(uid))  # asked from a second connection
        return real_intake(ctx_, message)

    monkeypatch.setattr(imap_module.tickets, "intake", spying_intake)
    assert await ImapPoller(mailbox.url(), ctx).poll() == 1
    assert seen_during_intake == [set()]  # BODY.PEEK[]: still unseen while it was being stored
    assert mailbox.flags(uid) == {"\\Seen"}


async def test_when_intake_fails_the_mail_stays_unseen_and_is_taken_next_time(ctx, mailbox, monkeypatch, imap_log):
    raw, _ = mail("ann@customer.test", "Database was down")
    uid = mailbox.deliver(raw)
    real_intake = imap_module.tickets.intake

    def broken(ctx_, message):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(imap_module.tickets, "intake", broken)
    poller = ImapPoller(mailbox.url(), ctx)
    assert await poller.poll() == 0
    assert mailbox.unseen() == [uid]
    assert any(f"UID {uid}" in m and "database is locked" in m and "tried again" in m for m in errors(imap_log))

    monkeypatch.setattr(imap_module.tickets, "intake", real_intake)
    assert await poller.poll() == 1
    assert [t.subject for t in tickets(ctx)] == ["Database was down"]
    assert mailbox.unseen() == []


async def test_a_malformed_mail_is_flagged_and_skipped_without_blocking_the_good_one(ctx, mailbox, imap_log):
    bad_uid = mailbox.deliver(b"this is not an email, just a line of text\r\n")
    no_sender_uid = mailbox.deliver(b"Subject: who am I\r\nMessage-ID: <x@y>\r\n\r\nno From: header\r\n")
    good, _ = mail("ann@customer.test", "A real question")
    good_uid = mailbox.deliver(good)

    poller = ImapPoller(mailbox.url(), ctx)
    assert await poller.poll() == 1
    assert [t.subject for t in tickets(ctx)] == ["A real question"]
    assert mailbox.flags(bad_uid) == {"\\Flagged", "\\Seen"}
    assert mailbox.flags(no_sender_uid) == {"\\Flagged", "\\Seen"}
    assert mailbox.flags(good_uid) == {"\\Seen"}

    warned = warnings_(imap_log)
    assert any(f"UID {bad_uid}" in w and "does not look like an email" in w for w in warned), warned
    assert any(f"UID {no_sender_uid}" in w and "no usable sender address" in w for w in warned), warned

    imap_log.clear()
    assert await poller.poll() == 0  # not retried every minute
    assert warnings_(imap_log) == []


async def test_another_folder_with_spaces_and_umlauts(ctx, mailbox):
    folder = "Kundenpost Ä&Ö"
    raw, _ = mail("ann@customer.test", "In a folder")
    uid = mailbox.deliver(raw, folder)
    in_inbox, _ = mail("bob@customer.test", "Left alone")
    inbox_uid = mailbox.deliver(in_inbox)

    assert await ImapPoller(mailbox.url(folder), ctx).poll() == 1
    assert [t.subject for t in tickets(ctx)] == ["In a folder"]
    assert mailbox.flags(uid, folder) == {"\\Seen"}
    assert mailbox.flags(inbox_uid) == set()


async def test_user_and_password_are_percent_decoded(ctx, dovecot):
    box = _new_mailbox(dovecot, password="p@ss wörd/%?#&")  # not ASCII: sent with AUTHENTICATE PLAIN
    raw, _ = mail("ann@customer.test", "Odd password")
    box.deliver(raw)
    url = box.url()
    assert "%40" in url and "%C3%B6" in url
    assert await ImapPoller(url, ctx).poll() == 1

    ascii_box = _new_mailbox(dovecot, password='a"quote\\and@at')  # ASCII: LOGIN, quoted
    ascii_box.deliver(raw)
    assert await ImapPoller(ascii_box.url(), ctx).poll() == 0  # the same mail (Message-ID) again
    assert ascii_box.unseen() == []


# ---------------------------------------------------------------- what goes wrong


async def test_wrong_password_returns_0_and_says_what_to_check(ctx, mailbox, imap_log):
    raw, _ = mail("ann@customer.test", "Never fetched")
    uid = mailbox.deliver(raw)
    poller = ImapPoller(mailbox.url(password="wrong-password"), ctx)
    assert await poller.poll() == 0
    [message] = errors(imap_log)
    server = f"127.0.0.1:{mailbox.server.port}"
    assert f"IMAP login to {server} as {mailbox.user} failed" in message
    assert "check IMAP_URL's user and password" in message
    assert "wrong-password" not in imap_log.text
    assert mailbox.flags(uid) == set()
    assert tickets(ctx) == []


async def test_unknown_user_is_a_failed_login_too(ctx, dovecot, imap_log):
    url = dovecot.url(user="nobody-here", password="x")
    assert await ImapPoller(url, ctx).poll() == 0
    assert any("as nobody-here failed" in m for m in errors(imap_log))


async def test_server_not_listening(ctx, imap_log):
    port = free_port()
    assert await ImapPoller(f"imap://u:p@127.0.0.1:{port}/INBOX", ctx).poll() == 0
    [message] = errors(imap_log)
    assert f"127.0.0.1:{port} refused the connection" in message
    assert "check IMAP_URL's host and port" in message


async def test_unknown_host(ctx, imap_log):
    assert await ImapPoller("imaps://u:p@no-such-host.invalid/INBOX", ctx).poll() == 0
    [message] = errors(imap_log)
    assert "no-such-host.invalid:993" in message and "could not be found" in message


async def test_missing_folder(ctx, mailbox, imap_log):
    assert await ImapPoller(mailbox.url("Nope"), ctx).poll() == 0
    [message] = errors(imap_log)
    assert "IMAP folder 'Nope'" in message and f"as {mailbox.user}" in message
    assert "check the folder at the end of IMAP_URL" in message


async def test_imaps_against_a_plain_port_is_explained(ctx, mailbox, imap_log):
    url = f"imaps://{mailbox.user}:{mailbox.password}@127.0.0.1:{mailbox.server.port}/INBOX"
    assert await ImapPoller(url, ctx, timeout=5).poll() == 0
    [message] = errors(imap_log)
    assert f"127.0.0.1:{mailbox.server.port}" in message and "TLS" in message


async def test_starttls_on_a_server_without_it(ctx, mailbox, imap_log):
    assert await ImapPoller(mailbox.url(starttls=True), ctx).poll() == 0
    [message] = errors(imap_log)
    assert "does not offer STARTTLS" in message


# ---------------------------------------------------------------- TLS


async def test_imaps_with_implicit_tls(ctx, dovecot_tls):
    box = _new_mailbox(dovecot_tls)
    raw, _ = mail("ann@customer.test", "Over TLS")
    box.deliver(raw)
    poller = ImapPoller(box.url(scheme="imaps"), ctx, ssl_context=dovecot_tls.client_ssl_context)
    assert poller.settings.use_tls and poller.settings.port == dovecot_tls.tls_port
    assert await poller.poll() == 1
    assert [t.subject for t in tickets(ctx)] == ["Over TLS"]


async def test_imap_with_starttls(ctx, dovecot_tls):
    box = _new_mailbox(dovecot_tls)
    raw, _ = mail("ann@customer.test", "Upgraded to TLS")
    box.deliver(raw)
    poller = ImapPoller(box.url(starttls=True), ctx, ssl_context=dovecot_tls.client_ssl_context)
    assert await poller.poll() == 1
    assert box.unseen() == []


async def test_untrusted_certificate(ctx, dovecot_tls, imap_log):
    box = _new_mailbox(dovecot_tls)
    poller = ImapPoller(box.url(scheme="imaps"), ctx)  # the system's trust store: self-signed fails
    assert await poller.poll() == 0
    [message] = errors(imap_log)
    assert f"127.0.0.1:{dovecot_tls.tls_port}" in message and "certificate is not trusted" in message


# ---------------------------------------------------------------- IMAP_URL


def test_a_password_sent_unencrypted_is_warned_about(ctx, caplog):
    caplog.set_level(logging.WARNING, logger="pitchin.imap")
    ImapPoller("imap://support:topsecret@mail.example.com/INBOX", ctx)
    [warning] = warnings_(caplog)
    assert "unencrypted" in warning and "mail.example.com:143" in warning and "topsecret" not in warning
    caplog.clear()
    ImapPoller("imap://support:topsecret@mail.example.com/INBOX?starttls=true", ctx)
    ImapPoller("imaps://support:topsecret@mail.example.com/INBOX", ctx)
    ImapPoller("imap://support:topsecret@127.0.0.1:1143/INBOX", ctx)  # this machine: no wire to tap
    assert warnings_(caplog) == []



def test_parse_imap_url_defaults_and_decoding():
    s = parse_imap_url("imaps://support%40example.com:p%3Ass%2Fw@imap.example.com")
    assert (s.host, s.port, s.username, s.password, s.folder) == (
        "imap.example.com", 993, "support@example.com", "p:ss/w", "INBOX")
    assert s.use_tls and not s.start_tls
    assert "p:ss" not in s.url and "***" in s.url

    s = parse_imap_url("imap://u:p@mail.example.com:1143/Support%20Mail?starttls=true")
    assert (s.port, s.folder, s.use_tls, s.start_tls) == (1143, "Support Mail", False, True)

    assert parse_imap_url("imap://u:p@localhost/").port == 143
    assert parse_imap_url("imap://u:p@localhost/inbox").folder == "INBOX"
    assert parse_imap_url("IMAPS://u:@host/INBOX").password == ""


@pytest.mark.parametrize(
    "url, why",
    [
        ("", "empty"),
        ("https://u:p@imap.example.com/INBOX", "must start with imap:// or imaps://"),
        ("imap.example.com", "must start with imap:// or imaps://"),
        ("imaps:///INBOX", "no mail server host"),
        ("imaps://imap.example.com/INBOX", "no user name"),
        ("imaps://support@imap.example.com/INBOX", "no password"),
        ("imaps://u:topsecret@imap.example.com:99999/INBOX", "port"),
        ("imaps://u:topsecret@imap.example.com:abc/INBOX", "port"),
        ("imap://u:topsecret@imap.example.com/INBOX?starttls=maybe", "starttls must be true or false"),
        ("imap://u:topsecret@imap.example.com/INBOX?tls=1", "unknown option 'tls'"),
        ("imaps://u:topsecret@imap.example.com/INBOX?starttls=true", "imaps:// already encrypts"),
    ],
)
def test_bad_imap_url_raises_value_error_naming_imap_url(ctx, url, why):
    with pytest.raises(ValueError) as info:
        ImapPoller(url, ctx)
    text = str(info.value)
    assert text.startswith("IMAP_URL ")
    assert why in text
    assert "imaps://user:password@imap.example.com/INBOX" in text  # an example of a good one
    assert "topsecret" not in text


def test_folder_names_are_sent_in_modified_utf7():
    # RFC 3501 section 5.1.3's own example, and an "&", which stands for itself as "&-"
    assert imap_module._mailbox("~peter/mail/台北/日本語") == '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'
    assert imap_module._mailbox("Kundenpost Ä&Ö") == '"Kundenpost &AMQ-&-&ANY-"'
    assert imap_module._mailbox('a "b" \\c') == '"a \\"b\\" \\\\c"'


# ---------------------------------------------------------------- read like HTTP intake


async def test_polled_mail_is_read_in_the_mail_reader_bounded_and_auto_replies_are_not_tickets(ctx, mailbox, imap_log):
    from bot.inbox.reader import MailReader
    from tests.inbox.test_intake_stall import many_parts

    big = many_parts(parts=5_000, html_rows=10)
    first, first_id = mail("ann@customer.test", "VPN down")
    quoted, _ = mail("ann@customer.test", "Re: VPN down", "Still down.\n\nOn Mon, 3 Mar 2025, Support wrote:\n> Try again",
                     in_reply_to=first_id)
    away, _ = mail("ann@customer.test", "Out of office", "Away.")
    away = b"Auto-Submitted: auto-replied\r\n" + away
    for raw in (big, first, quoted, away):
        mailbox.deliver(raw)

    reader = MailReader(workers=1)
    try:
        assert await ImapPoller(mailbox.url(), ctx, reader=reader).poll() == 3
    finally:
        reader.close()

    got = messages(ctx)
    assert got[0].text.startswith("[This email had 5,001 MIME parts; Pitchin kept the first 100.]")
    assert [m.text for m in got[1:]] == ["Hello, I need help.", "Still down."]  # the quote is cut, as over HTTP
    assert len(tickets(ctx)) == 2  # the out-of-office answered no ticket: dropped
    assert mailbox.unseen() == []
    assert any("ignored (auto-reply)" in r.getMessage() for r in imap_log.records)


async def test_a_follow_up_read_by_imap_is_posted_as_the_same_mail_posted_to_intake(tmp_path, mailbox):
    """One customer, the same follow-up with the whole conversation quoted under it: through
    /intake/email into one Pitchin, through its IMAP folder into another. Both threads show the same
    post, the new words only."""
    from tests.stack import raw_mail, start_stack, stop_stack

    follow_up = raw_mail(subject="Re: Double charge", message_id="<m2@mail.example.com>",
                         in_reply_to="<m1@mail.example.com>", references="<m1@mail.example.com>",
                         body="Still charged twice, see my bank statement.\r\n\r\n"
                              "On Mon, 23 Nov 2026 at 10:12, Acme Support <support@acme.test> wrote:\r\n"
                              "> Sorry about that! Could you send us the date of both charges?\r\n>\r\n"
                              "> On Mon, 23 Nov 2026 at 09:00, Carol Customer wrote:\r\n"
                              ">> My card was charged twice.")

    async def thread_post(through_imap: bool, db: str) -> str:
        stack = await start_stack(f"sqlite:///{tmp_path / db}")
        try:
            status, _ = await stack.post_email(raw_mail())
            assert status == 202
            root_ts = (await stack.ticket_post()).response["ts"]
            if through_imap:  # as the scheduler polls: the app's own mail reader
                mailbox.deliver(follow_up)
                assert await ImapPoller(mailbox.url(), stack.pitchin.ctx, reader=stack.pitchin.mail_reader).poll() == 1
            else:
                status, _ = await stack.post_email(follow_up)
                assert status == 202
            (post,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == root_ts
                                                 and "customer wrote" in c.args.get("text", ""))
            return post.args["text"]
        finally:
            await stop_stack(stack)

    by_http, by_imap = await thread_post(False, "http.db"), await thread_post(True, "imap.db")
    assert by_imap == by_http
    assert "Still charged twice, see my bank statement." in by_imap
    assert "wrote:" not in by_imap.split("\n", 1)[1] and ">" not in by_imap and "Sorry about that" not in by_imap
