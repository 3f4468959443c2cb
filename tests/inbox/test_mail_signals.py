"""What parse_email reads from a mail's headers beyond its text: automatic replies (RFC 3834), a
failed DMARC check, a strict sender, and the limits that keep reading bounded."""

from __future__ import annotations

import pytest

from bot.inbox import bounds, parse
from bot.inbox.email import MalformedEmail, parse_email


def mail(*headers: str, sender="Carol <carol@example.com>", body="Hello, my printer is on fire.") -> bytes:
    lines = [f"From: {sender}", "To: help@acme.test", "Subject: hi", "Message-ID: <x1@example.com>", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize("header, reason", [
    ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
    ("Auto-Submitted: auto-generated; owner-email=it@example.com", "Auto-Submitted: auto-generated"),
    ("Precedence: bulk", "Precedence: bulk"),
    ("Precedence: JUNK", "Precedence: junk"),
    ("Precedence: list", "Precedence: list"),
    ("X-Autoreply: yes", "X-Autoreply: yes"),
    ("X-Autorespond: Out of office", "X-Autorespond"),
    ("Return-Path: <>", "empty return path"),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=x", "delivery report"),
])
def test_automatic_mail_is_recognised(header, reason):
    raw = mail(header)
    if "multipart/report" in header:
        raw = mail(header, body="--x\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--x--")
    assert reason in parse_email(raw).auto_reply


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.com", "Postmaster <postmaster@example.com>"])
def test_mail_from_a_mail_system_is_automatic(sender):
    assert "sent by a mail system" in parse_email(mail(sender=sender)).auto_reply


@pytest.mark.parametrize("header", [
    "Auto-Submitted: no",
    "Precedence: first-class",
    # Outlook asks *us* not to auto-reply with it, on ordinary mail
    "X-Auto-Response-Suppress: All",
    None,
])
def test_a_persons_mail_is_not_automatic(header):
    assert parse_email(mail(*([header] if header else []))).auto_reply is None


@pytest.mark.parametrize("results, failed", [
    ("mx.acme.test; dkim=pass; spf=pass; dmarc=fail (p=none) header.from=example.com", True),
    ("mx.acme.test; DMARC=FAIL header.from=example.com", True),
    ("mx.acme.test; dmarc=pass header.from=example.com", False),
    ("mx.acme.test; dmarc=failover", False),
])
def test_dmarc_fail_in_authentication_results_is_flagged(results, failed):
    assert parse_email(mail(f"Authentication-Results: {results}")).dmarc_failed is failed


def test_dmarc_fail_in_any_of_several_authentication_results_is_flagged():
    raw = mail("Authentication-Results: forged.example; dmarc=pass", "Authentication-Results: mx.acme.test; dmarc=fail")
    assert parse_email(raw).dmarc_failed is True


@pytest.mark.parametrize("sender, address, name", [
    ("victim@third.example <attacker@evil.example>", "attacker@evil.example", "attacker"),
    ('"victim@third.example" <attacker@evil.example>', "attacker@evil.example", "attacker"),
    ("=?utf-8?q?victim@third.example?= <attacker@evil.example>", "attacker@evil.example", "attacker"),
    ('"Carol (carol@example.com)" <carol@example.com>', "carol@example.com", "Carol (carol@example.com)"),
    ("Carol J. Smith <Carol@Example.com>", "carol@example.com", "Carol J. Smith"),
    ("carol@example.com (Carol <victim@third.example>)", "carol@example.com", "carol"),
    ('"Smith, Carol" <carol@example.com>', "carol@example.com", "Smith, Carol"),
])
def test_the_address_in_angle_brackets_is_answered_and_a_misleading_name_dropped(sender, address, name):
    m = parse_email(mail(sender=sender))
    assert (m.sender_email, m.sender_name) == (address, name)


@pytest.mark.parametrize("sender", [
    "a@x.example, b@y.example",
    "a@x.example, <b@y.example>",
    "<a@x.example> <b@y.example>",
    "a@x.example b@y.example",
    "team: a@x.example, b@y.example;",
])
def test_several_addresses_are_ambiguous(sender):
    with pytest.raises(parse.AmbiguousSender, match="The From header is ambiguous"):
        parse_email(mail(sender=sender))


def test_an_ambiguous_sender_is_a_malformed_email():
    assert issubclass(parse.AmbiguousSender, MalformedEmail)


# ---------------------------------------------------------------- bounded reading


def test_html_is_converted_up_to_the_limit_and_the_ticket_says_so(monkeypatch):
    monkeypatch.setattr(parse, "MAX_HTML_CHARS", 200)
    html = "<p>" + "word " * 100 + "</p><p>THE END</p>"
    m = parse_email(mail("Content-Type: text/html; charset=utf-8", body=html))
    assert m.text.startswith(f"[The HTML of this email is {len(html) + 2:,} characters long; "
                             "Pitchin converted the first 200.]\n\nword word")
    assert "THE END" not in m.text


def test_a_mail_within_the_part_limit_is_read_whole():
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(bounds.MAX_PARTS))
    m = parse_email(mail('Content-Type: multipart/mixed; boundary="b"', body=parts + "--b--"))
    assert "part 0" in m.text and f"part {bounds.MAX_PARTS - 1}" in m.text and "Pitchin kept" not in m.text


def test_boundary_lines_inside_text_do_not_count_as_parts():
    body = "\r\n".join(["--b", "Content-Type: text/plain", "", "see:"] + ["--bogus option"] * 500 + ["--b--"])
    m = parse_email(mail('Content-Type: multipart/mixed; boundary=b', body=body))
    assert m.text.count("--bogus option") == 500 and "Pitchin kept" not in m.text


def test_parts_past_the_byte_level_cut_are_still_not_kept(monkeypatch):
    """A boundary the pre-scan does not recognise (RFC 2231 continuations): the walk stops anyway."""
    monkeypatch.setattr(bounds, "keep_first_parts", lambda raw, limit=bounds.MAX_PARTS: bounds.Bounded(raw, 0, 0))
    parts = "".join(f"--b\r\nContent-Disposition: attachment; filename=f{i}.txt\r\n\r\nx\r\n" for i in range(150))
    m = parse_email(mail('Content-Type: multipart/mixed; boundary="b"', body="--b\r\n\r\nHello\r\n" + parts + "--b--"))
    assert len(m.attachments) == bounds.MAX_PARTS - 1
    assert m.text.startswith(f"[This email has more than {bounds.MAX_PARTS} MIME parts; Pitchin kept the first")


def test_the_header_block_limits():
    assert bounds.header_problem(mail(*[f"X-Trace-{i}: y" for i in range(900)])) is None
    assert "1,005 header lines" in bounds.header_problem(mail(*[f"X-Trace-{i}: y" for i in range(1001)]))
    with pytest.raises(MalformedEmail, match="header block is over 256 KB"):
        parse_email(mail("X-Big: " + "y" * 300_000))
