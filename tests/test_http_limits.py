"""Before authentication nothing expensive happens, and no client can stall the server: bodies are
capped as they arrive, Slack's signature is checked before anything parses the body, JSON cannot
nest deeply, refusals are logged in a line, slow headers and bodies are cut off, and half-open
connections cannot use up the file descriptors."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import resource
import time
from pathlib import Path

import aiohttp
import jwt
import pytest

from bot.app import Pitchin
from tests.fakes.slack_api import event_body, message_event, sign
from tests.stack import CHANNEL, SECRET, TOKEN, settings_for
from tests.teams.stack import ANN, start_teams_stack, stop_teams_stack
from tests.teams.test_security import APP_ID, lookups  # noqa: F401 (a fixture)
from tests.test_crash import ROOT, ServeProcess, free_port

MB = 1024 * 1024
FORGED_TEAMS_TOKEN = "Bearer " + jwt.encode({"iss": "https://attacker.example", "aud": APP_ID},
                                            "an attacker's key, long enough for HS256", algorithm="HS256")


def deep_but_valid(levels: int) -> bytes:
    return ("[" * levels + "]" * levels).encode()


@pytest.fixture
async def stack(sqlite_url, lookups):  # noqa: F811
    """Slack, and Teams with authentication on: both doors as they are in production."""
    s = await start_teams_stack(sqlite_url, with_slack=True, teams=False, microsoft_app_id=APP_ID,
                                microsoft_app_password="s3cret")
    yield s
    await stop_teams_stack(s)


async def _post(s, path: str, body, headers: dict) -> tuple[int, str]:
    async with s.http.post(f"{s.base}{path}", data=body, headers=headers) as resp:
        return resp.status, await resp.text()


def _chunked(body: bytes):
    async def chunks():
        for at in range(0, len(body), 65536):
            yield body[at:at + 65536]

    return chunks()  # aiohttp sends an async iterator with Transfer-Encoding: chunked, no Content-Length


# ---------------------------------------------------------------- size, signature, JSON


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path, headers", [
    ("/slack/events", {"Content-Type": "application/json"}),
    ("/api/messages", {"Content-Type": "application/json"}),
    ("/intake/messages", {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}),
])
async def test_a_body_over_1_mb_is_refused_with_413(stack, path, headers, chunked):
    body = b'{"text": "' + b"x" * MB + b'"}'
    status, text = await _post(stack, path, _chunked(body) if chunked else body, headers)
    assert status == 413 and "too large" in json.loads(text)["error"]
    assert stack.slack.calls == [] and stack.teams.calls == []


@pytest.mark.parametrize("body", [b"[" * 100_000, event_body(message_event(CHANNEL, "UANN", "hi", "1.000001")).encode()],
                         ids=["deeply nested", "an event"])
@pytest.mark.parametrize("headers, reason", [
    ({}, "Missing Slack signature"),
    ("forged", "Forged Slack request"),
    ("stale", "Stale Slack request"),
])
async def test_an_unsigned_slack_request_is_refused_before_its_body_is_parsed(stack, body, headers, reason, caplog):
    if headers == "forged":
        headers = sign("not-the-secret", body.decode())
    elif headers == "stale":
        headers = sign(SECRET, body.decode(), timestamp=int(time.time()) - 6 * 60)
    status, text = await _post(stack, "/slack/events", body, {**headers, "Content-Type": "application/json"})
    assert status == 401 and reason in json.loads(text)["error"]
    assert "RecursionError" not in caplog.text
    assert stack.slack.calls == []


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000, deep_but_valid(150), b"{not json"],
                         ids=["100,000 [", "50,000 {", "150 levels", "malformed"])
async def test_deep_or_malformed_json_gets_400_on_every_route(stack, body, caplog):
    slack = {**sign(SECRET, body.decode()), "Content-Type": "application/json"}
    teams = {"Content-Type": "application/json", "Authorization": FORGED_TEAMS_TOKEN}  # JSON is read before the token
    intake = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    for path, headers in (("/slack/events", slack), ("/api/messages", teams), ("/intake/messages", intake)):
        status, text = await _post(stack, path, body, headers)
        assert status == 400, (path, status, text)
        assert "Malformed JSON" in json.loads(text)["error"]
    form = f"payload={'%5B' * 100_000}"  # Slack's interactivity: JSON inside a form field
    status, text = await _post(stack, "/slack/events", form,
                               {**sign(SECRET, form), "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "Malformed JSON" in json.loads(text)["error"]
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text


async def test_json_as_deep_as_real_payloads_still_works(stack):
    status, text = await stack.post_message({"email": "ann@example.com", "text": "hello",
                                             "subject": "x"}, token=TOKEN)
    assert status == 202
    status, _ = await stack.slack_post(event_body(message_event(CHANNEL, "UANN", "hi", "1800000000.000001",
                                                                thread_ts="1700000000.000100")), "application/json")
    assert status == 200


async def test_a_refused_request_adds_under_1_kb_to_the_log(sqlite_url, lookups):  # noqa: F811
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as `pitchin serve` does before it builds Bolt (whose loggers copy the level)
    s = await start_teams_stack(sqlite_url, with_slack=True, teams=False, microsoft_app_id=APP_ID,
                                microsoft_app_password="s3cret")
    try:
        deadline = time.monotonic() + 30
        while "Suggestion index" not in logged.getvalue() and "suggestion index" not in logged.getvalue():
            assert time.monotonic() < deadline, "the start never finished"
            await asyncio.sleep(0.05)
        before = len(logged.getvalue().encode())
        text = "y" * 450 * 1024  # an event carries its text twice (text and blocks)
        slack_body = event_body(message_event(CHANNEL, "UANN", text, "1800000000.000001"))
        assert 850 * 1024 < len(slack_body) < MB
        status, _ = await _post(s, "/slack/events", slack_body, {"Content-Type": "application/json"})
        assert status == 401
        status, _ = await _post(s, "/slack/events", slack_body,
                                {**sign("not-the-secret", slack_body), "Content-Type": "application/json"})
        assert status == 401
        status, _ = await s.send(s.acts.message(ANN, text * 2, mention=True), headers={"Authorization": FORGED_TEAMS_TOKEN})
        assert status == 401
        added = logged.getvalue().encode()[before:]
    finally:
        await stop_teams_stack(s)
        root.removeHandler(handler)
        root.setLevel(level)
    assert len(added) < 1024, added[:2000]


# ---------------------------------------------------------------- slow clients, many connections


@pytest.fixture
async def guarded(sqlite_url):
    """Pitchin with its limits shortened: headers within 1 s, a body within 2 s, 20 connections."""
    pitchin = Pitchin(settings_for(sqlite_url, None, None))
    pitchin.limits.header_timeout = 1
    pitchin.limits.body_timeout = 2
    pitchin.limits.max_connections = 20
    await pitchin.start(http=True, worker=False, scheduler=False)
    yield pitchin
    await pitchin.stop()


async def _connect(port: int, first_bytes: bytes):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first_bytes)
    await writer.drain()
    return reader, writer


async def _closed_after(reader: asyncio.StreamReader, timeout: float = 10) -> tuple[bytes, float]:
    """Everything the server said until it closed the connection, and how long that took."""
    started = time.monotonic()
    said = await asyncio.wait_for(reader.read(), timeout)  # b"" or the answer, then end of stream
    return said, time.monotonic() - started


PARTIAL_HEAD = b"POST /intake/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


async def test_a_connection_that_does_not_finish_its_headers_is_closed(guarded, caplog):
    caplog.set_level(logging.WARNING, logger="pitchin")
    reader, writer = await _connect(guarded.port, PARTIAL_HEAD)
    said, waited = await _closed_after(reader)
    assert said == b"" and waited >= 0.9  # closed by the header deadline (1 s here, 30 s in production)
    assert "closed 1 connection(s) that did not finish their headers within 1 s" in caplog.text
    writer.close()


async def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(guarded):
    reader, writer = await _connect(guarded.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status = await asyncio.wait_for(reader.readline(), 10)
    assert status.startswith(b"HTTP/1.1 200")
    await asyncio.wait_for(reader.readuntil(b"}"), 10)  # the JSON answer
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 1")  # the next request stalls in its headers
    said, _ = await _closed_after(reader)
    assert said == b""
    writer.close()


async def test_a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closed(guarded):
    head = PARTIAL_HEAD + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
    reader, writer = await _connect(guarded.port, head + b'{"email": ')  # and nothing more
    said, waited = await _closed_after(reader)
    assert said.startswith(b"HTTP/1.1 408") and b"did not arrive within 2 s" in said
    assert waited >= 1.9
    writer.close()


async def test_a_slow_but_timely_body_is_not_cut_off_by_the_header_deadline(guarded):
    body = json.dumps({"email": "ann@example.com", "text": "slow but fine"}).encode()
    head = PARTIAL_HEAD + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    reader, writer = await _connect(guarded.port, head + body[:10])
    await asyncio.sleep(1.5)  # the client is slow on purpose: past the header deadline, within the body's
    writer.write(body[10:])
    status = await asyncio.wait_for(reader.readline(), 10)
    assert status.startswith(b"HTTP/1.1 202")
    writer.close()


async def test_connections_over_the_cap_close_the_oldest_idle_ones(guarded, caplog):
    caplog.set_level(logging.WARNING, logger="pitchin")
    half_open = [await _connect(guarded.port, PARTIAL_HEAD) for _ in range(50)]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{guarded.port}/healthz") as resp:
            assert resp.status == 200
    assert guarded.open_connections <= 20
    said, _ = await _closed_after(half_open[0][0])  # the oldest made room at once …
    assert said == b""
    closing = [r.getMessage() for r in caplog.records if "to make room" in r.getMessage()]
    assert len(closing) == 1 and len(closing[0]) < 300  # … and the log says so in one line
    for _, writer in half_open:
        writer.close()


def _few_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


async def test_half_open_connections_beyond_the_file_limit_do_not_take_healthz_down(tmp_path):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CWD": str(tmp_path), "PORT": str(port),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'pitchin.db'}", "PITCHIN_INTAKE_TOKEN": TOKEN}
    serve = ServeProcess(env, tmp_path / "serve.log", preexec_fn=_few_files)
    half_open = []
    async with aiohttp.ClientSession() as http:
        await serve.start(http)
        try:
            for _ in range(300):  # more than the process may have files open
                half_open.append(await asyncio.wait_for(_connect(port, PARTIAL_HEAD), 10))
            deadline = time.monotonic() + 10
            async with http.get(f"http://127.0.0.1:{port}/healthz",
                                timeout=aiohttp.ClientTimeout(total=deadline - time.monotonic())) as resp:
                assert resp.status == 200 and (await resp.json())["ok"]
        finally:
            for _, writer in half_open:
                writer.close()
            serve.stop()
    log = (tmp_path / "serve.log").read_text()
    assert "Too many open files" not in log and "out of system resource" not in log
    assert "to make room" in log


def _low_soft_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 1024))


async def test_pitchin_serve_raises_its_open_file_limit_to_the_hard_limit(tmp_path):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CWD": str(tmp_path), "PORT": str(port),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'pitchin.db'}"}
    serve = ServeProcess(env, tmp_path / "serve.log", preexec_fn=_low_soft_limit)
    async with aiohttp.ClientSession() as http:
        await serve.start(http)
        try:
            limits = Path(f"/proc/{serve.proc.pid}/limits").read_text()
        finally:
            serve.stop()
    (line,) = [x for x in limits.splitlines() if x.startswith("Max open files")]
    assert line.split()[3:5] == ["1024", "1024"]  # soft, hard
    assert "at most 832 connections at once" in (tmp_path / "serve.log").read_text()  # 1024 - 128 - 64


async def test_slacks_certificate_check_is_answered_without_a_signature(stack):
    status, _ = await _post(stack, "/slack/events", "ssl_check=1&token=x",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
