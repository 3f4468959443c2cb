"""`pitchin doctor` as an administrator runs it: its lines, its exit codes; and `pitchin serve` refusing
the placeholders of .env.example in the same words."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bot import doctor
from bot.config import Settings
from bot.doctor.result import Check
from storage.db import Database
from tests.fakes.slack_api import FakeSlackApi

ROOT = Path(__file__).resolve().parents[2]
GOOD_TOKEN = "q" * 16 + "-Zx81mPq2Lw"


def base_env(tmp_path, **extra) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            **extra}


def upgraded(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.upgrade()
    db.dispose()


def pitchin(tmp_path, env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)


def test_everything_needed_right_exits_0(tmp_path):
    upgraded(tmp_path)
    result = pitchin(tmp_path, base_env(tmp_path, PITCHIN_INTAKE_TOKEN=GOOD_TOKEN), "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"✓ Database: connect — sqlite:///{tmp_path / 'p.db'}"
    assert lines[1].startswith("✓ Database: tables up to date — revision ")
    assert "– Slack: SLACK_BOT_TOKEN — not configured" in lines  # skipped checks do not fail
    assert "✓ Intake: token — PITCHIN_INTAKE_TOKEN set, 27 characters" in lines
    assert lines[-1] == "All checks passed."
    assert "cannot be loaded" not in result.stdout  # every module AREAS names is there
    assert [line[2:].split(":")[0] for line in lines if line[:1] in "✓✗–"] == [
        "Database", "Database", "Slack", "Teams", "SMTP", "IMAP", "Intake", "Public URL", "Local model",
        "Local model"]
    assert "alembic" not in result.stderr  # nothing between or around the lines but the lines


def test_a_cross_exits_1_and_says_what_to_do(tmp_path):
    result = pitchin(tmp_path, base_env(tmp_path, PITCHIN_INTAKE_TOKEN="short"), "doctor")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"✗ Database: connect — sqlite:///{tmp_path / 'p.db'}: the file {tmp_path / 'p.db'} does not exist yet" \
        in lines
    advice = lines[lines.index("✗ Intake: token — PITCHIN_INTAKE_TOKEN is 5 characters long; it needs at least 24") + 1]
    assert advice.startswith("    → set it to a long random string")
    assert lines[-1] == "2 checks to fix."


def test_a_setting_that_cannot_be_read_exits_2(tmp_path):
    result = pitchin(tmp_path, base_env(tmp_path, PORT="eighty"), "doctor")
    assert result.returncode == 2 and "PORT is “eighty”, not a port number" in result.stderr


def test_help_says_what_it_checks(tmp_path):
    result = pitchin(tmp_path, base_env(tmp_path), "doctor", "--help")
    assert result.returncode == 0
    for words in ("auth.test", "PITCHIN_PUBLIC_URL", "migrations", "--send-to ADDRESS", "Exit code 0"):
        assert words in result.stdout


async def test_slack_through_the_command(tmp_path):
    upgraded(tmp_path)
    async with FakeSlackApi() as fake:
        fake.scopes = ["chat:write"]
        fake.set_channel("C1", "support", is_member=False)
        env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", PITCHIN_SUPPORT_CHANNEL="C1",
                       SLACK_API_URL=fake.url)
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "doctor", cwd=tmp_path, env=env,
                                                       stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = out.decode().splitlines()
    assert process.returncode == 1, err.decode()
    assert "✓ Slack: token (auth.test) — connected as @pitchin in Acme (T1)" in lines
    assert any(line.startswith("✗ Slack: scopes — missing app_mentions:read, channels:history") for line in lines)
    assert "    → invite Pitchin: /invite @Pitchin in #support" in lines


# ---------------------------------------------------------------- placeholders refused at start
def test_serve_refuses_the_placeholders_of_env_example(tmp_path):
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    upgraded(tmp_path)
    env = base_env(tmp_path, PORT="0")
    for command in ("serve", "worker"):
        result = pitchin(tmp_path, env, command)
        assert result.returncode == 2, result.stderr
        refused = result.stderr.splitlines()
        assert refused[0] == "Pitchin cannot start:"
        assert ("  - SLACK_BOT_TOKEN is “xoxb-...”, the placeholder from .env.example: set it to the Bot User OAuth "
                "Token (xoxb-…) from your Slack app's OAuth & Permissions page, or remove it to run without Slack.") \
            in refused
        for var in ("SLACK_SIGNING_SECRET is “...”", "PITCHIN_SUPPORT_CHANNEL is “C0123456789”",
                    "PITCHIN_INTAKE_TOKEN is “change-me-to-a-long-random-string”"):
            assert any(line.startswith(f"  - {var}, the placeholder from .env.example: ") for line in refused)
        assert "Traceback" not in result.stderr

    # the doctor shows the same words, as ✗ lines with the advice under them
    result = pitchin(tmp_path, env, "doctor")
    assert result.returncode == 1
    assert ("✗ Slack: token (auth.test) — SLACK_BOT_TOKEN is “xoxb-...”, the placeholder from .env.example\n"
            "    → set it to the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page, "
            "or remove it to run without Slack") in result.stdout


def test_every_example_value_of_env_example_is_known():
    from bot.config import EXAMPLE_VALUES

    text = (ROOT / ".env.example").read_text()
    for var, (example, _) in EXAMPLE_VALUES.items():  # written there as VAR=example, commented out or not
        assert f"{var}={example}" in text, var


# ---------------------------------------------------------------- the runner
async def test_a_missing_area_is_one_cross_and_the_others_still_run(monkeypatch):
    seen = []

    async def checks(settings, send_to=None):
        seen.append(send_to)
        return [Check("Recorder", "send_to", True, str(send_to))]

    monkeypatch.setitem(sys.modules, "bot.doctor.recorder", types.SimpleNamespace(checks=checks))
    found = await doctor.run(Settings(), send_to="ann@example.com", areas=("no_such_area", "recorder"))
    assert [c.area for c in found] == ["No such area", "Recorder"]
    assert not found[0].ok and "bot/doctor/no_such_area.py cannot be loaded (ModuleNotFoundError" in found[0].detail
    assert seen == ["ann@example.com"]
    assert doctor.exit_code(found) == 1


async def test_an_area_that_hangs_or_raises_is_a_cross(monkeypatch):
    async def hangs(settings, send_to=None):
        await asyncio.Event().wait()

    async def raises(settings, send_to=None):
        raise RuntimeError("surprise")

    monkeypatch.setitem(sys.modules, "bot.doctor.hangs", types.SimpleNamespace(checks=hangs))
    monkeypatch.setitem(sys.modules, "bot.doctor.raises", types.SimpleNamespace(checks=raises))
    found = await doctor.run(Settings(), areas=("hangs", "raises"), timeout=0.2)
    assert found[0].detail == "no answer within 0.2 s"
    assert found[1].detail == "failed with RuntimeError: surprise"


@pytest.mark.parametrize("checks, code", [
    ([Check("A", "x", True), Check("B", "y", False, skipped=True)], 0),
    ([Check("A", "x", True), Check("B", "y", False, needed=False)], 0),
    ([Check("A", "x", True), Check("B", "y", False)], 1),
])
def test_exit_code_counts_only_needed_crosses(checks, code):
    assert doctor.exit_code(checks) == code


def test_removing_the_slack_token_as_advised_is_enough(tmp_path):
    from bot.config import load_settings

    env = {"SLACK_SIGNING_SECRET": "...", "PITCHIN_SUPPORT_CHANNEL": "C0123456789", "PITCHIN_INTAKE_TOKEN": GOOD_TOKEN}
    assert load_settings(env, dotenv=None, refuse_placeholders=True).support_channel == "C0123456789"
