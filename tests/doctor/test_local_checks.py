"""`pitchin doctor`: the intake token, PITCHIN_PUBLIC_URL (against a local server) and the local model files."""

from __future__ import annotations

import asyncio
import hashlib
import ssl

import pytest
from aiohttp import web

from bot.config import Settings
from bot.doctor import intake, model, public_url
from tests.doctor import closed_port
from tests.fakes.tls import self_signed_pem


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


# ---------------------------------------------------------------- intake token
async def test_a_long_random_intake_token_is_a_tick():
    (check,) = await intake.checks(Settings(intake_token="k" * 20 + "Zq3-x9Lm"))
    assert check.line() == "✓ Intake: token — PITCHIN_INTAKE_TOKEN set, 28 characters"


@pytest.mark.parametrize("token, words", [
    ("change-me-to-a-long-random-string", "PITCHIN_INTAKE_TOKEN is “change-me-to-a-long-random-string”, the "
                                          "placeholder from .env.example"),
    ("secret", "PITCHIN_INTAKE_TOKEN is “secret”, a placeholder anyone would guess"),
    ("a-short-one", "PITCHIN_INTAKE_TOKEN is 11 characters long; it needs at least 24"),
])
async def test_a_weak_intake_token_is_a_cross_with_a_way_to_make_one(token, words):
    (check,) = await intake.checks(Settings(intake_token=token))
    assert not check.ok and check.detail == words
    assert "secrets.token_urlsafe(32)" in check.advice


async def test_no_intake_token_is_not_configured():
    (check,) = await intake.checks(Settings())
    assert check.skipped and "/intake/* is switched off" in check.detail


# ---------------------------------------------------------------- public URL
async def serve(handler, ssl_context=None):
    app = web.Application()
    app.router.add_get("/healthz", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner, runner.addresses[0][1]


def answering(status: int = 200, text: str = "{\"ok\": true}"):
    async def handler(request):
        return web.Response(status=status, text=text)
    return handler


@pytest.fixture
async def server():
    runners = []

    async def start(handler, ssl_context=None):
        runner, port = await serve(handler, ssl_context)
        runners.append(runner)
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_a_public_url_that_answers_200(server):
    port = await server(answering())
    checks = by_name(await public_url.checks(Settings(public_url=f"http://127.0.0.1:{port}/")))
    assert checks["answers /healthz"].line() == f"✓ Public URL: answers /healthz — http://127.0.0.1:{port}/healthz answered 200"
    https = checks["https"]  # a loopback test server speaks http: the https check says what Slack needs
    assert not https.ok and "Slack and Teams only call https" in https.advice


async def test_a_public_url_that_answers_500(server):
    port = await server(answering(500, "boom"))
    check = by_name(await public_url.checks(Settings(public_url=f"http://127.0.0.1:{port}")))["answers /healthz"]
    assert not check.ok and check.detail == f"http://127.0.0.1:{port}/healthz answered 500: boom"
    assert "`pitchin serve` is running" in check.advice


async def test_a_public_url_that_never_answers(server, monkeypatch):
    monkeypatch.setattr(public_url, "HEALTHZ_SECONDS", 0.3)
    never = asyncio.Event()

    async def hang(request):
        await never.wait()

    port = await server(hang)
    check = by_name(await public_url.checks(Settings(public_url=f"http://127.0.0.1:{port}")))["answers /healthz"]
    assert not check.ok and "did not answer within 0.3 s" in check.detail
    never.set()


async def test_a_public_url_where_nothing_listens():
    port = closed_port()
    check = by_name(await public_url.checks(Settings(public_url=f"http://127.0.0.1:{port}")))["answers /healthz"]
    assert not check.ok and f"127.0.0.1:{port}" in check.detail and "reaches it from here" in check.advice


async def test_https_with_a_certificate_nobody_trusts(server, tmp_path):
    cert, key = self_signed_pem()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    port = await server(answering(), context)
    checks = by_name(await public_url.checks(Settings(public_url=f"https://127.0.0.1:{port}")))
    assert checks["https"].ok
    healthz = checks["answers /healthz"]
    assert not healthz.ok and "certificate is not accepted" in healthz.detail and "Let's Encrypt" in healthz.advice


async def test_no_public_url_is_not_configured():
    (check,) = await public_url.checks(Settings())
    assert check.skipped


# ---------------------------------------------------------------- local model
def model_folder(tmp_path, content: bytes = b"not really onnx, the doctor does not load it"):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(content)
    (folder / "tokenizer.json").write_text("{}")
    return folder, hashlib.sha256(content).hexdigest()


async def test_the_bundled_model_is_present_and_the_pinned_file():
    checks = by_name(await model.checks(Settings()))
    assert checks["files present"].ok and checks["checksum"].ok, [c.line() for c in checks.values()]


async def test_a_folder_with_the_pinned_checksum(tmp_path):
    folder, digest = model_folder(tmp_path)
    checks = by_name(await model.checks(Settings(model_dir=str(folder), model_sha256=digest)))
    assert checks["checksum"].line() == f"✓ Local model: checksum — sha256 {digest[:16]}… as expected"


async def test_a_folder_with_a_wrong_checksum(tmp_path):
    folder, digest = model_folder(tmp_path)
    checks = by_name(await model.checks(Settings(model_dir=str(folder), model_sha256="0" * 64)))
    assert checks["files present"].ok
    checksum = checks["checksum"]
    assert not checksum.ok
    assert f"is not the file the pinned sha256 (PITCHIN_MODEL_SHA256) names (sha256 {digest}" in checksum.detail
    assert "PITCHIN_MODEL_SHA256 to what `sha256sum model.onnx` prints" in checksum.advice


async def test_a_folder_without_its_tokenizer(tmp_path):
    folder, _ = model_folder(tmp_path)
    (folder / "tokenizer.json").unlink()
    (check,) = await model.checks(Settings(model_dir=str(folder)))
    assert not check.ok and check.detail == f"{folder / 'tokenizer.json'} missing"
