"""No mail can stall the server: a 5 MB mail of 50,000 MIME parts is read in a worker process and
cut to its first 100 parts, while /healthz and Slack's acknowledgements go on answering."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request

import pytest

from storage.models import TicketMessage
from tests.fakes.slack_api import sign, slash_command_body
from tests.stack import CHANNEL, SECRET, start_stack, stop_stack


HTML_ROW = '<table><tr><td><b>cell</b> <a href="https://x.example">link</a></td></tr></table><p>Hi &amp; bye</p>'


def many_parts(parts: int = 50_000, html_rows: int = 15_000) -> bytes:
    """A 5 MB mail: an HTML body of 1.5 MB (converting the first 1 MB of it takes most of a second),
    then ``parts`` small attached files."""
    boundary = "b"
    head = ("From: Mallory <mallory@example.com>\r\nTo: support@acme.test\r\nSubject: Many parts\r\n"
            "Message-ID: <many-parts@example.com>\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n')
    html = f"--{boundary}\r\nContent-Type: text/html\r\n\r\n<html><body>{HTML_ROW * html_rows}</body></html>\r\n"
    body = "".join(f"--{boundary}\r\nContent-Disposition: attachment; filename=part-{i}.txt"
                   "\r\n\r\nxxxxxxxxxx\r\n" for i in range(parts))
    return (head + html + body + f"--{boundary}--\r\n").encode()


@pytest.fixture
async def stack(sqlite_url):
    s = await start_stack(sqlite_url)
    yield s
    await stop_stack(s)


class Probe:
    """Asks /healthz every 50 ms from a thread of its own, and times a signed slash command: the
    test's own requests share the server's event loop, so only another thread sees it stall."""

    def __init__(self, base: str):
        self.base = base
        self.http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="healthz-probe", daemon=True)

    def _poll(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                with self.http.open(f"{self.base}/healthz", timeout=10) as resp:
                    resp.read()
            except OSError as exc:
                self.failures.append(repr(exc))
            self.latencies.append(time.monotonic() - started)
            self.stop.wait(0.05)

    def slash_command(self, response_url: str) -> tuple[int, float]:
        body = slash_command_body("/pitchin", "list", "UANN", CHANNEL, response_url)
        request = urllib.request.Request(f"{self.base}/slack/events", data=body.encode(), method="POST",
                                         headers=sign(SECRET, body, content_type="application/x-www-form-urlencoded"))
        started = time.monotonic()
        with self.http.open(request, timeout=10) as resp:
            resp.read()
            return resp.status, time.monotonic() - started


async def test_a_50000_part_mail_stalls_neither_healthz_nor_slack(stack):
    raw = many_parts()
    assert 5_000_000 < len(raw) < 6_000_000
    probe = Probe(stack.base)
    probe.thread.start()
    try:
        mail = asyncio.create_task(stack.post_email(raw))
        # the slash command goes in while the mail is being read
        deadline = time.monotonic() + 10
        while not stack.pitchin.mail_reader.busy and not mail.done():
            assert time.monotonic() < deadline, "the mail never reached the mail reader"
            await asyncio.sleep(0.005)
        assert stack.pitchin.mail_reader.busy, "the mail was read before the slash command could go in"
        ack_status, ack_seconds = await asyncio.to_thread(probe.slash_command, stack.slack.url_for_response("stall"))
        status, answer = await asyncio.wait_for(mail, timeout=60)
    finally:
        probe.stop.set()
        await asyncio.to_thread(probe.thread.join, 15)

    assert ack_status == 200 and ack_seconds < 3, f"the slash command was acknowledged after {ack_seconds:.2f} s"
    assert not probe.failures, probe.failures
    slowest = max(probe.latencies)
    assert slowest < 0.5, f"slowest /healthz: {slowest:.3f} s of {len(probe.latencies)}"
    assert status == 202, answer
    assert answer["new_ticket"] is True

    # the ticket says what was left out, at the top, so that the card shows it
    post = await stack.ticket_post()
    shown = str(post.args["blocks"])
    assert "This email had 50,001 MIME parts; Pitchin kept the first 100." in shown
    assert "The HTML of this email is 1,500,026 characters long; Pitchin converted the first 1,000,000." in shown
    with stack.pitchin.db.transaction() as session:
        stored = session.get(TicketMessage, answer["message_id"])
    assert "Hi & bye" in stored.text
    # the HTML body and the first 99 files
    assert [a["filename"] for a in stored.attachments] == [f"part-{i}.txt" for i in range(99)]


async def test_an_absurd_header_block_is_refused_with_the_reason(stack):
    raw = b"From: carol@example.com\r\nSubject: hi\r\n" + b"X-Filler: y\r\n" * 5000 + b"\r\nHello\r\n"
    status, answer = await stack.post_email(raw)
    assert status == 400
    assert "5,002 header lines" in answer["error"] and "at most 1,000" in answer["error"]

    raw = b"From: carol@example.com\r\nSubject: " + b"y" * 300_000 + b"\r\n\r\nHello\r\n"
    status, answer = await stack.post_email(raw)
    assert status == 400 and "header block is over 256 KB" in answer["error"]
