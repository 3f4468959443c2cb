"""Reading customer mail: what a ticket shows for the mails people really send."""

import base64
import random
import re
import textwrap
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from bot.inbox.email import MalformedEmail, parse_email, strip_quoted
from handlers.base import Attachment


def mail(headers: str, body: bytes = b"Hello, my printer is on fire.\r\n") -> bytes:
    """Raw mail bytes: the (dedented) header lines, CRLF, a blank line, then ``body``."""
    head = "\r\n".join(line.rstrip() for line in textwrap.dedent(headers).strip().splitlines())
    return head.encode("ascii") + b"\r\n\r\n" + body


PLAIN = mail(
    """
    From: Ann Example <Ann.Example@Example.COM>
    To: help@acme.test
    Subject:   Printer on fire  
    Message-ID: <CAabc123@mail.example.com>
    Date: Mon, 8 Jan 2024 10:00:00 +0100
    Content-Type: text/plain; charset=utf-8
    """
)


# ---------------------------------------------------------------- the basics


def test_plain_mail_becomes_an_inbound_message():
    at = datetime(2024, 1, 8, 9, 0, 5, tzinfo=timezone.utc)
    m = parse_email(PLAIN, received_at=at)
    assert m.source == "email"
    assert m.sender_email == "ann.example@example.com"
    assert m.sender_name == "Ann Example"
    assert m.subject == "Printer on fire"
    assert m.text == "Hello, my printer is on fire."
    assert m.email_message_id == "<CAabc123@mail.example.com>"
    assert m.external_key == "email:<CAabc123@mail.example.com>"
    assert m.in_reply_to == ()
    assert m.attachments == ()
    assert m.received_at == at
    assert m.reply_url is None


def test_sender_without_display_name_is_called_by_the_local_part():
    m = parse_email(mail("From: bob.jones@example.com\nSubject: hi"))
    assert m.sender_email == "bob.jones@example.com"
    assert m.sender_name == "bob.jones"


def test_encoded_display_name_and_subject_are_decoded():
    raw = mail(
        """
        From: =?utf-8?q?Zo=C3=AB_M=C3=BCller?= <zoe@example.de>
        Subject: =?utf-8?b?RHJ1Y2tlciBrYXB1dHQg4oCUIGJpdHRlIGhlbGZlbg==?=
        """
    )
    m = parse_email(raw)
    assert m.sender_name == "Zoë Müller"
    assert m.subject == "Drucker kaputt — bitte helfen"


def test_received_at_is_aware_utc():
    aware = datetime(2024, 1, 8, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_email(PLAIN, received_at=aware).received_at == datetime(2024, 1, 8, 9, 0, tzinfo=timezone.utc)

    before = datetime.now(timezone.utc)
    default = parse_email(PLAIN).received_at
    after = datetime.now(timezone.utc)
    assert default.utcoffset() == timedelta(0)
    assert before <= default <= after


def test_empty_subject_reads_no_subject():
    assert parse_email(mail("From: a@example.com\nSubject:    ")).subject == "(no subject)"
    assert parse_email(mail("From: a@example.com")).subject == "(no subject)"


def test_folded_subject_is_one_line():
    raw = b"From: a@example.com\r\nSubject: a very long\r\n  subject line\r\n\r\nbody\r\n"
    assert parse_email(raw).subject == "a very long subject line"


# ---------------------------------------------------------------- choosing the body


def test_multipart_alternative_prefers_the_plain_text():
    msg = EmailMessage()
    msg["From"] = "ann@example.com"
    msg["Subject"] = "hello"
    msg.set_content("Plain version: the VPN drops every 5 minutes.")
    msg.add_alternative("<html><body><p>HTML <b>version</b></p></body></html>", subtype="html")
    m = parse_email(msg.as_bytes())
    assert m.text == "Plain version: the VPN drops every 5 minutes."
    assert m.attachments == ()  # the HTML alternative is not an attachment


HTML_ONLY = mail(
    """
    From: ann@example.com
    Subject: html only
    Content-Type: text/html; charset=utf-8
    """,
    b"""<html><head><title>ignored title</title><style>p { color: red }</style>
<script>alert('x')</script></head>
<body><p>Hi <b>support</b> team,</p>
<p>Our invoices page at <a href="https://acme.test/invoices?id=42">this link</a> shows an error &amp; a blank table.</p>
<img src="cid:logo123" alt="Company logo">
<ul><li>Chrome 120</li><li>Firefox 121</li></ul>
<table><tr><td>Account</td><td>ACME-7</td></tr></table>
<p>1. We tried logging out<br>- and in again</p>
<p>Thanks,<br>Ann</p></body></html>
""",
)


def test_html_only_mail_becomes_readable_text():
    text = parse_email(HTML_ONLY).text
    assert "<" not in text and ">" not in text  # no tags left
    assert "Hi support team," in text  # no **bold** markers
    # no [text](url): the label, then where the link really goes; entities decoded
    assert "this link (https://acme.test/invoices?id=42) shows an error & a blank table" in text
    assert "](" not in text and "![" not in text
    assert "Company logo" not in text and "cid:" not in text  # images ignored
    assert "color: red" not in text and "alert" not in text and "ignored title" not in text
    assert "Chrome 120" in text and "Firefox 121" in text
    assert "Account  ACME-7" in text  # table cells kept apart
    assert "1. We tried logging out\n- and in again" in text  # no markdown backslash escapes
    assert "\\" not in text
    assert text.endswith("Thanks,\nAnn")


def test_html_lists_quotes_and_links_read_as_a_person_would_write_them():
    raw = mail(
        """
        From: ann@example.com
        Subject: steps
        Content-Type: text/html; charset=utf-8
        """,
        b"""<p>What I did:</p><ol><li>Opened <a href="https://acme.test/settings">settings</a></li>
<li>Clicked <b>Export</b><ul><li>as CSV</li><li>as PDF</li></ul></li></ol>
<p>Mail <a href="mailto:ann@example.com">ann@example.com</a> or see <a href="#top">above</a>
and <a href="cid:img1"><img src="cid:img1"></a><a href="javascript:alert(1)">this</a>.</p>
<pre>  Error 42
    at line 7</pre><blockquote>you said<blockquote>I said</blockquote></blockquote>""",
    )
    assert parse_email(raw).text == (
        "What I did:\n\n"
        "1. Opened settings (https://acme.test/settings)\n"
        "2. Clicked Export\n"
        "  - as CSV\n"
        "  - as PDF\n\n"
        "Mail ann@example.com or see above and this.\n\n"
        "  Error 42\n"
        "    at line 7\n\n"
        "> you said\n"
        "> > I said"
    )


def test_deeply_nested_html_gives_text_of_bounded_size():
    # every level would otherwise indent its line further: 5,000 levels, 12 MB of spaces
    html = ("<ul><li>x" * 5_000 + "<blockquote>y" * 5_000).encode()
    text = parse_email(mail("From: ann@example.com\nContent-Type: text/html", html)).text
    assert text.count("x") == 5_000 and len(text) < 5_000 * 40


def test_html_that_never_closes_a_tag_is_read_in_one_pass(monkeypatch):
    # HTMLParser.close() reads an unterminated rest a character at a time, rescanning it to its end
    # each time: for a megabyte like this one, hours. Pitchin reads such a rest as text instead.
    import html.parser

    reads = []
    real = html.parser.HTMLParser.parse_starttag
    monkeypatch.setattr(html.parser.HTMLParser, "parse_starttag", lambda self, i: reads.append(i) or real(self, i))
    html = ("<p>The export fails</p>" + "<a b=" * 190_000).encode()
    text = parse_email(mail("From: ann@example.com\nContent-Type: text/html", html)).text
    assert text.startswith("The export fails\n\n<a b=<a b=")  # the rest is shown as written, nothing lost
    assert len(reads) < 10


def test_links_do_not_nest_in_html_mail():
    html = b'<p><a href="https://a.test">one <a href="https://b.test">two</a> three</a></p>' * 3
    text = parse_email(mail("From: ann@example.com\nContent-Type: text/html", html)).text
    assert text.split("\n\n")[0] == "one (https://a.test) two (https://b.test) three"


def test_empty_plain_alternative_falls_back_to_html():
    msg = EmailMessage()
    msg["From"] = "ann@example.com"
    msg["Subject"] = "x"
    msg.set_content("\n")
    msg.add_alternative("<p>The real message is <i>here</i>.</p>", subtype="html")
    assert parse_email(msg.as_bytes()).text == "The real message is here."


def test_body_split_around_an_inline_picture_is_kept_whole():
    # Apple Mail: multipart/mixed of text, picture, text.
    raw = mail(
        """
        From: ann@example.com
        Subject: screenshot
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="XX"
        """,
        b"--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHere is the error:\r\n"
        b"--XX\r\nContent-Type: image/png; name=shot.png\r\nContent-Disposition: inline; filename=shot.png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"\x89PNG" + b"\0" * 96) + b"\r\n"
        b"--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nAnd it happens daily.\r\n--XX--\r\n",
    )
    m = parse_email(raw)
    assert m.text == "Here is the error:\n\nAnd it happens daily."
    assert m.attachments == (Attachment("shot.png", 100, "image/png"),)


# ---------------------------------------------------------------- charsets


def test_latin1_body_decodes():
    raw = mail(
        """
        From: ann@example.com
        Subject: latin
        Content-Type: text/plain; charset=iso-8859-1
        Content-Transfer-Encoding: 8bit
        """,
        "Grüße aus Köln, café".encode("iso-8859-1"),
    )
    assert parse_email(raw).text == "Grüße aus Köln, café"


def test_windows_1252_smart_quotes_and_euro_decode():
    body = "“Quoted” price: 5 €".encode("windows-1252")
    for charset in ("windows-1252", "iso-8859-1"):  # the latter is often mislabelled 1252
        raw = mail(
            f"""
            From: ann@example.com
            Subject: quotes
            Content-Type: text/plain; charset={charset}
            Content-Transfer-Encoding: 8bit
            """,
            body,
        )
        assert parse_email(raw).text == "“Quoted” price: 5 €", charset


def test_shift_jis_body_and_subject_decode():
    raw = mail(
        """
        From: =?shift_jis?b?k2OShpG+mFk=?= <taro@example.jp>
        Subject: =?shift_jis?b?g3aDioOTg16BW4LMjMyP4Q==?=
        Content-Type: text/plain; charset=shift_jis
        Content-Transfer-Encoding: 8bit
        """,
        "プリンターが動きません。助けてください。".encode("shift_jis"),
    )
    m = parse_email(raw)
    assert m.text == "プリンターが動きません。助けてください。"
    assert m.sender_name == "田中太郎"
    assert m.subject == "プリンターの故障"


def test_bogus_charset_falls_back_to_utf8_without_crashing():
    raw = mail(
        """
        From: ann@example.com
        Subject: =?x-klingon?q?caf=C3=A9?= ok
        Content-Type: text/plain; charset=x-klingon
        Content-Transfer-Encoding: 8bit
        """,
        "naïve café".encode("utf-8"),
    )
    m = parse_email(raw)
    assert m.text == "naïve café"
    assert m.subject.endswith("ok")

    broken = mail(
        """
        From: ann@example.com
        Subject: broken
        Content-Type: text/plain; charset="base64"
        Content-Transfer-Encoding: 8bit
        """,
        b"caf\xe9 bytes",
    )
    assert parse_email(broken).text == "caf\ufffd bytes"


def test_utf8_declared_but_latin1_bytes_are_replaced_not_fatal():
    raw = mail(
        """
        From: ann@example.com
        Subject: liar
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: 8bit
        """,
        b"caf\xe9 au lait",
    )
    assert parse_email(raw).text == "caf\ufffd au lait"


def test_quoted_printable_and_base64_bodies_decode():
    qp = mail(
        """
        From: ann@example.com
        Subject: qp
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable
        """,
        b"Gr=C3=BC=C3=9Fe, a soft=\r\nbreak\r\n",
    )
    assert parse_email(qp).text == "Grüße, a softbreak"
    b64 = mail(
        """
        From: ann@example.com
        Subject: b64
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: base64
        """,
        base64.b64encode("Ça marche pas".encode()),
    )
    assert parse_email(b64).text == "Ça marche pas"


# ---------------------------------------------------------------- attachments


def test_attachments_are_listed_by_name_size_and_type():
    msg = EmailMessage()
    msg["From"] = "ann@example.com"
    msg["Subject"] = "logs attached"
    msg["Message-ID"] = "<att@example.com>"
    msg.set_content("See the attached files.")
    msg.add_attachment(b"%PDF-1.4 " + b"x" * 1991, maintype="application", subtype="pdf", filename="invoice.pdf")
    msg.add_attachment("line1\nline2\n", filename="server.log")
    msg.add_attachment(b"\x89PNG" + b"\0" * 12, maintype="image", subtype="png", filename="Überweisung.png")
    m = parse_email(msg.as_bytes())
    assert m.text == "See the attached files."
    assert m.attachments == (
        Attachment("invoice.pdf", 2000, "application/pdf"),
        Attachment("server.log", 12, "text/plain"),
        Attachment("Überweisung.png", 16, "image/png"),
    )


def test_nameless_inline_images_get_numbered_names():
    msg = EmailMessage()
    msg["From"] = "ann@example.com"
    msg["Subject"] = "pasted"
    msg.set_content("text version")
    msg.add_alternative('<p>see <img src="cid:a"> and <img src="cid:b"></p>', subtype="html")
    html = msg.get_payload()[1]
    html.add_related(b"\x89PNG" + b"\0" * 6, maintype="image", subtype="png", cid="<a>")
    html.add_related(b"\xff\xd8" + b"\0" * 8, maintype="image", subtype="jpeg", cid="<b>")
    for part in msg.walk():  # make them truly nameless, as some clients send them
        if part.get_content_maintype() == "image":
            del part["Content-Disposition"]
    m = parse_email(msg.as_bytes())
    assert m.text == "text version"
    assert [(a.filename, a.size, a.content_type) for a in m.attachments] == [
        ("inline-image-1.png", 10, "image/png"),
        ("inline-image-2.jpg", 10, "image/jpeg"),
    ]


def test_mail_with_only_an_attachment_is_accepted():
    msg = EmailMessage()
    msg["From"] = "ann@example.com"
    msg["Subject"] = "scan"
    msg.add_attachment(b"%PDF" + b"0" * 96, maintype="application", subtype="pdf", filename="scan.pdf")
    m = parse_email(msg.as_bytes())
    assert m.text == ""
    assert m.attachments == (Attachment("scan.pdf", 100, "application/pdf"),)


def test_attached_forwarded_mail_is_one_attachment_and_not_body_text():
    inner = EmailMessage()
    inner["From"] = "boss@example.com"
    inner["Subject"] = "secret plans"
    inner.set_content("Inner body that is not the customer's question.")
    outer = EmailMessage()
    outer["From"] = "ann@example.com"
    outer["Subject"] = "Fwd: see attached"
    outer.set_content("Please look at the attached mail.")
    outer.add_attachment(inner)
    m = parse_email(outer.as_bytes())
    assert m.text == "Please look at the attached mail."
    assert len(m.attachments) == 1
    att = m.attachments[0]
    assert att.filename == "attached-message-1.eml"
    assert att.content_type == "message/rfc822"
    assert att.size > 50


# ---------------------------------------------------------------- threading headers


def test_follow_up_ids_come_from_in_reply_to_then_references_newest_first():
    raw = mail(
        """
        From: ann@example.com
        Subject: Re: printer
        Message-ID: <reply-3@example.com>
        In-Reply-To: <pitchin.bbb@acme.test> (Support's message of Monday)
        References: <first@example.com>
            <pitchin.aaa@acme.test> <pitchin.bbb@acme.test>
        """
    )
    m = parse_email(raw)
    assert m.in_reply_to == ("<pitchin.bbb@acme.test>", "<pitchin.aaa@acme.test>", "<first@example.com>")


def test_follow_up_with_only_references_and_bare_ids():
    raw = mail(
        """
        From: ann@example.com
        Subject: Re: x
        In-Reply-To: bare-id@example.com
        References: <one@x> <two@x>
        """
    )
    assert parse_email(raw).in_reply_to == ("<bare-id@example.com>", "<two@x>", "<one@x>")


def test_missing_message_id_gets_a_stable_derived_one():
    raw = mail("From: ann@example.com\nSubject: no id")
    first, again = parse_email(raw), parse_email(raw)
    assert re.fullmatch(r"<sha256-[0-9a-f]{64}@pitchin\.invalid>", first.email_message_id)
    assert first.external_key == "email:" + first.email_message_id
    assert again.external_key == first.external_key  # the same mail delivered twice is one ticket
    other = parse_email(mail("From: ann@example.com\nSubject: no id", b"A different body\r\n"))
    assert other.external_key != first.external_key


# ---------------------------------------------------------------- what is not a mail


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n  "], ids=["empty", "blank"])
def test_empty_input_is_malformed_with_a_helpful_message(raw):
    with pytest.raises(MalformedEmail, match="empty") as err:
        parse_email(raw)
    assert ".eml" in str(err.value)  # says what to pass instead


@pytest.mark.parametrize(
    "raw",
    [
        random.Random(1234).randbytes(4096),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\n",
        b"just a sentence someone pasted, no headers at all\n",
    ],
    ids=["random-binary", "png", "pdf", "prose"],
)
def test_bytes_that_are_not_a_mail_are_malformed(raw):
    with pytest.raises(MalformedEmail, match="does not look like an email") as err:
        parse_email(raw)
    assert "From:" in str(err.value)


@pytest.mark.parametrize(
    "from_line",
    ["", "From: ", "From: undisclosed-recipients:;", "From: Ann Example", "From: <@>"],
    ids=["missing", "empty", "group", "name-only", "broken"],
)
def test_mail_without_a_sender_address_is_malformed(from_line):
    raw = mail(f"{from_line}\nTo: help@acme.test\nSubject: who am I")
    with pytest.raises(MalformedEmail, match="no usable sender address") as err:
        parse_email(raw)
    assert "nobody to answer" in str(err.value)


def test_mail_with_no_text_and_no_attachments_is_malformed():
    raw = mail("From: ann@example.com\nSubject: empty", b"\r\n   \r\n")
    with pytest.raises(MalformedEmail, match="no readable text and no attachments") as err:
        parse_email(raw)
    assert "ann@example.com" in str(err.value)


def test_malformed_email_is_a_value_error():
    assert issubclass(MalformedEmail, ValueError)


# ---------------------------------------------------------------- quoted history


def test_strip_gmail_attribution_and_quote():
    text = (
        "Thanks, that fixed it!\n\n"
        "On Mon, Jan 8, 2024 at 10:00 AM Acme Support <help@acme.test> wrote:\n"
        "> Please restart the router.\n"
        ">\n"
        "> Bob\n"
    )
    assert strip_quoted(text) == "Thanks, that fixed it!"


def test_strip_gmail_attribution_wrapped_over_two_lines():
    text = (
        "Still broken.\n\n"
        "On Mon, 8 Jan 2024 at 10:00, Acme Support Team <\n"
        "help@acme.test> wrote:\n\n"
        "> Did you try turning it off and on again?\n"
    )
    assert strip_quoted(text) == "Still broken."


def test_strip_outlook_header_block():
    text = (
        "Yes, from the 3rd floor.\r\n\r\n"
        "________________________________\r\n"
        "From: Acme Support <help@acme.test>\r\n"
        "Sent: Monday, January 8, 2024 10:00 AM\r\n"
        "To: Ann Example <ann@example.com>\r\n"
        "Subject: RE: printer\r\n\r\n"
        "Which printer is it?\r\n"
    )
    assert strip_quoted(text) == "Yes, from the 3rd floor."


def test_strip_original_message_separator():
    text = "OK, I will.\n\n-----Original Message-----\nFrom: help@acme.test\nPlease send logs.\n"
    assert strip_quoted(text) == "OK, I will."


def test_strip_trailing_angle_quotes_and_their_attribution():
    text = "Yes please do.\n\nBob wrote:\n> Shall I reset your password?\n> \n"
    assert strip_quoted(text) == "Yes please do."


def test_inline_answers_between_quotes_are_kept():
    text = "> Which browser?\nFirefox.\n> Which version?\n121, on Linux."
    assert strip_quoted(text) == text


def test_prose_that_merely_looks_like_a_header_is_kept():
    text = "Hi team,\n\nOn Monday I wrote:\nthe printer is broken.\nFrom: the 3rd floor\nIt prints blank pages."
    assert strip_quoted(text) == text


def test_nothing_to_strip_returns_the_text_unchanged():
    text = "Hello,\n\nplain question with no history.\n"
    assert strip_quoted(text) is text


def test_stripping_everything_returns_the_original():
    text = "> only a quote\n> nothing else\n"
    assert strip_quoted(text) == text
    gmail_only = "On Mon, Jan 8, 2024 at 10:00 AM Bob <bob@acme.test> wrote:\n> hi\n"
    assert strip_quoted(gmail_only) == gmail_only


def test_html_reply_from_gmail_strips_to_the_new_text():
    raw = mail(
        """
        From: Ann <ann@example.com>
        Subject: Re: printer
        Content-Type: text/html; charset=utf-8
        """,
        b'<div dir="ltr">It works again, thank you!</div><br><div class="gmail_quote">'
        b'<div class="gmail_attr">On Mon, Jan 8, 2024 at 10:00 AM Acme Support &lt;help@acme.test&gt; wrote:<br></div>'
        b"<blockquote>Please restart it.</blockquote></div>",
    )
    assert strip_quoted(parse_email(raw).text) == "It works again, thank you!"
