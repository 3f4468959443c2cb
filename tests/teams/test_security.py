"""With MICROSOFT_APP_ID set, /api/messages takes only activities with a valid Bot Framework token
(botbuilder's own check); without a token it refuses before fetching any keys from the network."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import jwt
import pytest

from storage.models import Setting
from tests.teams.stack import ANN, start_teams_stack, stop_teams_stack
from tests.test_crash import ServeProcess, free_port

ROOT = Path(__file__).resolve().parents[2]

APP_ID = "8e4c2a9e-0a4f-4f5e-9d61-3c2b7f0e1a11"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def lookups(monkeypatch):
    """Every host name this process tries to resolve; anything but loopback fails (no network)."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        seen.append(str(host))
        if str(host) not in LOOPBACK:
            raise socket.gaierror(f"test: no network for {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return seen


@pytest.fixture
async def signed_stack(sqlite_url):
    s = await start_teams_stack(sqlite_url, teams=False, microsoft_app_id=APP_ID, microsoft_app_password="s3cret")
    yield s
    await stop_teams_stack(s)


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer not-a-token",
    "Bearer " + jwt.encode({"iss": "https://attacker.example", "aud": APP_ID}, "an attacker's key, long enough for HS256", algorithm="HS256"),
])
async def test_an_unsigned_activity_is_refused_without_touching_the_network(signed_stack, lookups, authorization):
    s = signed_stack
    activity = s.acts.message(ANN, "tickets here", mention=True)
    headers = {"Authorization": authorization} if authorization else {}
    status, body = await s.send(activity, headers=headers)
    assert status == 401 and "Bot Framework token" in body
    assert [h for h in lookups if h not in LOOPBACK] == []  # refused before fetching any signing keys
    assert s.teams.calls == []  # nothing was said or done
    with s.pitchin.db.transaction() as session:
        assert session.get(Setting, "teams.ticket_channel") is None


async def test_without_an_app_id_teams_runs_unauthenticated_and_says_so(sqlite_url, caplog):
    caplog.set_level("WARNING", logger="pitchin")
    s = await start_teams_stack(sqlite_url)
    try:
        assert any(r.levelname == "WARNING" and "TEAMS IS UNAUTHENTICATED" in r.getMessage() for r in caplog.records)
        answer = await s.choose_channel()  # no Authorization header, and accepted
        assert "From now on" in answer.text
    finally:
        await stop_teams_stack(s)


async def test_pitchin_serve_warns_at_start_when_teams_is_unauthenticated(tmp_path):
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CWD": str(tmp_path), "PORT": str(port),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'pitchin.db'}", "PITCHIN_TEAMS": "true"}
    serve = ServeProcess(env, tmp_path / "serve.log")
    async with aiohttp.ClientSession() as http:
        await serve.start(http)
        try:
            async with http.post(f"http://127.0.0.1:{port}/api/messages", json={"type": "typing"}) as resp:
                assert resp.status == 201  # /api/messages is there, and takes unsigned activities
        finally:
            serve.stop()
    log = (tmp_path / "serve.log").read_text()
    assert "WARNING pitchin: TEAMS IS UNAUTHENTICATED: MICROSOFT_APP_ID is empty" in log


async def test_with_an_app_id_there_is_no_such_warning(sqlite_url, caplog):
    caplog.set_level("INFO", logger="pitchin")
    s = await start_teams_stack(sqlite_url, teams=False, microsoft_app_id=APP_ID, microsoft_app_password="s3cret")
    try:
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("listening on") for m in messages)  # the start was logged …
        assert not any("UNAUTHENTICATED" in m for m in messages)  # … without the warning
    finally:
        await stop_teams_stack(s)


@pytest.mark.parametrize("content_type, data, status, words", [
    ("text/plain", "{}", 415, "Content-Type: application/json"),
    ("application/json", "{not json", 400, "Malformed JSON"),
    ("application/json", "[1, 2]", 400, 'needs at least a "type"'),
    ("application/json", '{"type": "message", "timestamp": "yesterday"}', 400, "Not a Bot Framework activity"),
])
async def test_bad_requests_are_refused_with_reasons(teams_stack, content_type, data, status, words):
    s = teams_stack
    async with s.http.post(f"{s.base}/api/messages", data=data, headers={"Content-Type": content_type}) as resp:
        assert resp.status == status
        assert words in (await resp.json())["error"]
