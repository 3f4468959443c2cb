"""Answering customers by mail: the mail we write, and sending it to a real SMTP server."""

import asyncio
import email
import email.policy
import mailbox
import re
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from bot.inbox.email import MaildirChannel, SmtpChannel, build_reply_email, parse_email
from handlers.base import DeliveryError, OutgoingReply
from handlers import message_ids
from tests.fakes.smtp import SmtpSink

FROM = "help@acme.test"


def make_reply(**overrides) -> OutgoingReply:
    values = dict(
        ticket_id=42,
        reply_id=7,
        to_email="ann@example.com",
        to_name="Ann Example",
        subject="Re: Printer on fire",
        text="Hi Ann,\n\nplease unplug it and step away.\n\nBob",
        author_name="Bob",
        message_id="<pitchin.0123abcd@acme.test>",
        in_reply_to="<CAabc123@mail.example.com>",
        references=("<first@mail.example.com>", "<CAabc123@mail.example.com>"),
    )
    values.update(overrides)
    return OutgoingReply(**values)


# ---------------------------------------------------------------- the mail we write


def test_reply_mail_threads_under_the_customers_mail():
    msg = build_reply_email(make_reply(), FROM)
    assert msg["From"] == "Support <help@acme.test>"
    assert msg["To"] == "Ann Example <ann@example.com>"
    assert msg["Subject"] == "Re: Printer on fire"
    assert msg["Message-ID"] == "<pitchin.0123abcd@acme.test>"
    assert msg["In-Reply-To"] == "<CAabc123@mail.example.com>"
    assert msg["References"] == "<first@mail.example.com> <CAabc123@mail.example.com>"
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert "Auto-Submitted" not in msg  # a person wrote it: auto-responders may answer
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content() == "Hi Ann,\n\nplease unplug it and step away.\n\nBob\n"


def test_reply_mail_without_thread_headers_and_with_a_sender_name():
    msg = build_reply_email(make_reply(in_reply_to=None, references=()), FROM, from_name="Acme Help Desk")
    assert msg["From"] == "Acme Help Desk <help@acme.test>"
    assert "In-Reply-To" not in msg
    assert "References" not in msg


def test_reply_mail_survives_non_ascii_and_header_injection():
    reply = make_reply(
        to_name="Zoë Müller",
        subject="Re: Drucker kaputt —\r\nBcc: victim@example.com",
        text="Grüße, 田中さん — € 5",
    )
    raw = build_reply_email(reply, FROM).as_bytes()
    assert raw.isascii()  # 7-bit clean: no reliance on the server's 8BITMIME
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert back["To"].addresses[0].display_name == "Zoë Müller"
    assert back["Subject"] == "Re: Drucker kaputt — Bcc: victim@example.com"
    assert "Bcc" not in back
    assert back.get_content() == "Grüße, 田中さん — € 5\n"


def test_a_mail_of_pitchins_own_has_an_html_alternative_and_says_it_is_automatic():
    html = '<p>How did we do? <a href="https://support.acme.test/survey/t?rating=great">Great</a></p>'
    msg = build_reply_email(make_reply(text="How did we do?\nGreat: https://support.acme.test/survey/t?rating=great",
                                       html=html, auto_submitted=True), FROM)
    assert msg["Auto-Submitted"] == "auto-generated"  # RFC 3834: no out-of-office answers it
    assert msg["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert msg["In-Reply-To"] == "<CAabc123@mail.example.com>"  # threaded like any answer
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    again = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert again.get_body(preferencelist=("plain",)).get_content().startswith("How did we do?\nGreat: https://")
    assert again.get_body(preferencelist=("html",)).get_content().strip() == html
    assert all(len(line) <= 78 for line in msg.as_bytes().splitlines())  # 7-bit safe, no overlong lines


def test_an_answer_stays_one_plain_text_part():
    """Replies written by people keep the mail they always had: no HTML part, no automatic header."""
    msg = build_reply_email(make_reply(), FROM)
    assert not msg.is_multipart() and msg.get_content_type() == "text/plain"
    assert "Auto-Submitted" not in msg and "X-Auto-Response-Suppress" not in msg


def test_message_ids_are_unique_and_well_formed_or_fixed_by_their_words():
    ids = {message_ids.make("acme.test") for _ in range(100)}
    assert len(ids) == 100
    for mid in ids:
        assert re.fullmatch(r"<pitchin\.[0-9a-f]{32}@acme\.test>", mid)
    assert message_ids.make("support@acme.test", "suggestion", "3", "shipped") == "<pitchin.suggestion.3.shipped@acme.test>"
    assert re.fullmatch(r"<pitchin\.[0-9a-f]{32}@pitchin\.invalid>", message_ids.make(""))


def test_customer_reply_to_our_mail_finds_the_thread():
    """Our Message-ID comes back in the customer's In-Reply-To/References."""
    ours = build_reply_email(make_reply(), FROM)
    answer = email.message.EmailMessage()
    answer["From"] = "Ann Example <ann@example.com>"
    answer["Subject"] = "Re: " + ours["Subject"]
    answer["In-Reply-To"] = ours["Message-ID"]
    answer["References"] = ours["References"] + " " + ours["Message-ID"]
    answer.set_content("Done, thanks.")
    inbound = parse_email(answer.as_bytes())
    assert inbound.in_reply_to[0] == "<pitchin.0123abcd@acme.test>"
    assert "<CAabc123@mail.example.com>" in inbound.in_reply_to


# ---------------------------------------------------------------- sending through SMTP


async def test_reply_is_delivered_to_the_smtp_server(smtp_sink):
    channel = SmtpChannel.from_url(smtp_sink.url, FROM, from_name="Acme Help Desk")
    result = await channel.send(make_reply())
    assert result == "emailed ann@example.com"

    [got] = await smtp_sink.wait_for(1)
    assert got.mail_from == FROM
    assert got.rcpt_tos == ["ann@example.com"]
    assert got["From"] == "Acme Help Desk <help@acme.test>"
    assert got["To"] == "Ann Example <ann@example.com>"
    assert got["Subject"] == "Re: Printer on fire"
    assert got["Message-ID"] == "<pitchin.0123abcd@acme.test>"
    assert got["In-Reply-To"] == "<CAabc123@mail.example.com>"
    assert got["References"] == "<first@mail.example.com> <CAabc123@mail.example.com>"
    assert got.text == "Hi Ann,\n\nplease unplug it and step away.\n\nBob\n"


async def test_smtp_login_uses_the_percent_decoded_password():
    sink = SmtpSink(credentials=("mailer@acme.test", "p@ss:w/rd %1")).start()
    try:
        url = f"smtp://mailer%40acme.test:p%40ss%3Aw%2Frd%20%251@{sink.address}"
        await SmtpChannel.from_url(url, FROM).send(make_reply())
        [got] = await sink.wait_for(1)
        assert got.login == "mailer@acme.test"

        wrong = SmtpChannel.from_url(f"smtp://mailer%40acme.test:nope@{sink.address}", FROM)
        with pytest.raises(DeliveryError) as err:
            await wrong.send(make_reply())
        assert not err.value.permanent
        assert "login" in str(err.value) and "SMTP_URL" in str(err.value)
        assert "nope" not in str(err.value)
    finally:
        sink.stop()


async def test_smtp_down_is_retryable_then_delivers_when_back(smtp_sink):
    channel = SmtpChannel.from_url(smtp_sink.url, FROM)
    port = smtp_sink.port
    smtp_sink.stop()

    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply())
    assert str(err.value) == f"mail server 127.0.0.1:{port} refused the connection"
    assert err.value.permanent is False

    smtp_sink.start()
    assert smtp_sink.port == port  # back on the same port, as a restarted server would be
    assert await channel.send(make_reply()) == "emailed ann@example.com"
    [got] = await smtp_sink.wait_for(1)
    assert got["Message-ID"] == "<pitchin.0123abcd@acme.test>"  # a resend is the same mail


async def test_unknown_recipient_550_is_permanent(smtp_sink):
    smtp_sink.reject("gone@example.com")
    channel = SmtpChannel.from_url(smtp_sink.url, FROM)
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply(to_email="gone@example.com"))
    assert err.value.permanent is True
    assert "rejected the recipient gone@example.com: 550" in str(err.value)
    assert smtp_sink.messages == []

    # Other customers are still reachable.
    await channel.send(make_reply())
    assert [m.rcpt_tos for m in await smtp_sink.wait_for(1)] == [["ann@example.com"]]


async def test_temporary_recipient_rejection_450_is_retryable(smtp_sink):
    smtp_sink.reject("ann@example.com", code=450)
    channel = SmtpChannel.from_url(smtp_sink.url, FROM)
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply())
    assert err.value.permanent is False
    assert ": 450" in str(err.value)

    smtp_sink.accept("ann@example.com")
    await channel.send(make_reply())
    assert len(await smtp_sink.wait_for(1)) == 1


async def test_customer_without_a_usable_address_is_permanent_and_sends_nothing(smtp_sink):
    channel = SmtpChannel.from_url(smtp_sink.url, FROM)
    for bad in ("", "not an address", "ann"):
        with pytest.raises(DeliveryError) as err:
            await channel.send(make_reply(to_email=bad))
        assert err.value.permanent is True
        assert "not an email address" in str(err.value)
    assert smtp_sink.messages == []


async def test_starttls_asked_but_not_offered_explains_itself(smtp_sink):
    channel = SmtpChannel.from_url(smtp_sink.url + "?starttls=true", FROM)
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply())
    assert "does not offer STARTTLS" in str(err.value)
    assert err.value.permanent is False


async def test_login_over_a_server_without_auth_explains_itself(smtp_sink):
    channel = SmtpChannel.from_url(f"smtp://user:secret@{smtp_sink.address}", FROM)
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply())
    assert "does not offer a login" in str(err.value)
    assert "secret" not in str(err.value)


async def test_server_that_never_answers_times_out_retryably():
    silent_clients = []

    async def hang(reader, writer):
        silent_clients.append(writer)  # accept the TCP connection, never send a greeting

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", FROM, timeout=0.5)
        with pytest.raises(DeliveryError) as err:
            await channel.send(make_reply())
        assert str(err.value) == f"mail server 127.0.0.1:{port} did not answer within 0.5 s"
        assert err.value.permanent is False
    finally:
        for w in silent_clients:
            w.close()
        server.close()
        await server.wait_closed()


async def test_unknown_host_is_retryable():
    channel = SmtpChannel.from_url("smtp://no-such-host.invalid:25", FROM, timeout=5)
    with pytest.raises(DeliveryError) as err:
        await channel.send(make_reply())
    assert "mail server no-such-host.invalid:25" in str(err.value)
    assert err.value.permanent is False


@pytest.fixture(scope="module")
def tls():
    pytest.importorskip("cryptography")
    from tests.fakes.smtp import make_tls_contexts

    return make_tls_contexts()


class TestTls:
    @pytest.mark.parametrize("mode", ["implicit", "starttls"])
    async def test_encrypted_delivery(self, tls, mode):
        server_ctx, client_ctx = tls
        sink = SmtpSink(tls=mode, server_tls=server_ctx).start()
        try:
            channel = SmtpChannel.from_url(sink.url, FROM, tls_context=client_ctx)
            assert channel.use_tls is (mode == "implicit")
            assert channel.start_tls is (mode == "starttls")
            await channel.send(make_reply())
            [got] = await sink.wait_for(1)
            assert got["Subject"] == "Re: Printer on fire"
        finally:
            sink.stop()

    async def test_untrusted_certificate_is_refused(self, tls):
        server_ctx, _ = tls
        sink = SmtpSink(tls="implicit", server_tls=server_ctx).start()
        try:
            with pytest.raises(DeliveryError) as err:
                await SmtpChannel.from_url(sink.url, FROM).send(make_reply())
            assert "TLS" in str(err.value) and "certificate" in str(err.value)
            assert sink.messages == []
        finally:
            sink.stop()


# ---------------------------------------------------------------- SMTP_URL


@pytest.mark.parametrize(
    "url, host, port, use_tls, start_tls, user, password",
    [
        ("smtp://mail.acme.test", "mail.acme.test", 25, False, False, None, None),
        ("smtp://mail.acme.test:2525", "mail.acme.test", 2525, False, False, None, None),
        ("smtps://u:p@mail.acme.test", "mail.acme.test", 465, True, False, "u", "p"),
        ("smtps://mail.acme.test:1465", "mail.acme.test", 1465, True, False, None, None),
        ("smtp://u:p@mail.acme.test:587?starttls=true", "mail.acme.test", 587, False, True, "u", "p"),
        ("smtp://mail.acme.test?starttls=false", "mail.acme.test", 25, False, False, None, None),
        ("SMTP://Mail.Acme.Test?StartTLS=1", "mail.acme.test", 25, False, True, None, None),
        ("smtp://apikey:p%40ss%3Aw%2Frd%23%20x@[::1]:25", "::1", 25, False, False, "apikey", "p@ss:w/rd# x"),
        ("smtp://me%40acme.test:pw@mail.acme.test", "mail.acme.test", 25, False, False, "me@acme.test", "pw"),
    ],
)
def test_smtp_url_is_understood(url, host, port, use_tls, start_tls, user, password):
    ch = SmtpChannel.from_url(url, FROM)
    assert (ch.host, ch.port, ch.use_tls, ch.start_tls, ch.username, ch.password) == (
        host, port, use_tls, start_tls, user, password,
    )
    assert ch.timeout == 30


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://mail.acme.test", "must start with smtp:// or smtps://"),
        ("mail.acme.test:25", "must start with smtp:// or smtps://"),
        ("", "empty"),
        ("smtp://", "names no mail server host"),
        ("smtp://mail.acme.test:twenty-five", "port is not a number"),
        ("smtp://mail.acme.test?starttls=maybe", "starttls must be true or false"),
        ("smtps://mail.acme.test?starttls=true", "already encrypts"),
        ("smtp://mail.acme.test?tls=on", "unknown option"),
    ],
)
def test_bad_smtp_url_says_what_is_wrong_and_shows_an_example(url, why):
    with pytest.raises(ValueError) as err:
        SmtpChannel.from_url(url, FROM)
    message = str(err.value)
    assert message.startswith("SMTP_URL")
    assert why in message
    assert "e.g. SMTP_URL=smtps://user:password@smtp.example.com:465" in message


def test_bad_smtp_url_error_does_not_show_the_password():
    with pytest.raises(ValueError) as err:
        SmtpChannel.from_url("ftp://mailer:hunter2@mail.acme.test", FROM)
    assert "hunter2" not in str(err.value)
    assert "mailer:***@" in str(err.value)


# ---------------------------------------------------------------- Maildir


async def test_maildir_channel_writes_a_readable_eml(tmp_path):
    box = tmp_path / "outbox" / "replies"  # not there yet
    channel = MaildirChannel(box, FROM)
    result = await channel.send(make_reply(text="Grüße,\nBob"))

    assert result.startswith("written to ")
    path = Path(result.removeprefix("written to "))
    assert path.suffix == ".eml" and path.parent == box / "new" and path.is_file()
    assert list((box / "tmp").iterdir()) == []  # nothing half-written left behind

    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "Ann Example <ann@example.com>"
    assert msg["From"] == "Support <help@acme.test>"
    assert msg["Message-ID"] == "<pitchin.0123abcd@acme.test>"
    assert msg.get_content() == "Grüße,\nBob\n"

    await channel.send(make_reply(message_id="<pitchin.second@acme.test>"))
    md = mailbox.Maildir(box, factory=None, create=False)
    assert sorted(m["Message-ID"] for m in md) == ["<pitchin.0123abcd@acme.test>", "<pitchin.second@acme.test>"]


async def test_maildir_that_cannot_be_written_is_a_delivery_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DeliveryError) as err:
        await MaildirChannel(blocker / "box", FROM).send(make_reply())
    assert "could not write the mail into Maildir" in str(err.value)
