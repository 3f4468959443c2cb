"""`pitchin doctor`, Slack: each check against the fake Slack Web API, ✓ and ✗ with the advice a ✗ gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.doctor import slack
from tests.fakes.slack_api import FakeSlackApi

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
MANIFEST_SCOPES = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["oauth_config"]["scopes"]["bot"]


@pytest.fixture
async def fake():
    async with FakeSlackApi() as api:
        api.scopes = list(MANIFEST_SCOPES)
        api.set_channel("C1", "support", is_member=True)
        yield api


def settings_for(fake: FakeSlackApi, **extra) -> Settings:
    return Settings(slack_bot_token="xoxb-1", slack_signing_secret="s", support_channel="C1",
                    slack_api_url=fake.url, **extra)


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_the_manifest_reader_agrees_with_yaml():
    assert slack.manifest_bot_scopes(MANIFEST.read_text(encoding="utf-8")) == MANIFEST_SCOPES


async def test_a_working_setup_is_all_ticks(fake):
    checks = by_name(await slack.checks(settings_for(fake)))
    assert checks["token (auth.test)"].ok
    assert checks["token (auth.test)"].line() == "✓ Slack: token (auth.test) — connected as @pitchin in Acme (T1)"
    assert checks["scopes"].ok
    assert checks["bot is in the support channel"].line() == "✓ Slack: bot is in the support channel — #support (C1)"
    assert fake.calls_to("auth.test")[0].headers["Authorization"] == "Bearer xoxb-1"
    assert fake.violations == []


async def test_no_token_is_not_configured():
    (check,) = await slack.checks(Settings())
    assert check.skipped and "not configured" in check.line()


async def test_invalid_auth_says_to_copy_the_token_again(fake):
    fake.fail("auth.test", status=200, error="invalid_auth")
    checks = by_name(await slack.checks(settings_for(fake)))
    token = checks["token (auth.test)"]
    assert not token.ok and "Slack answered invalid_auth" in token.detail
    assert "Bot User OAuth Token" in token.advice and "OAuth & Permissions" in token.advice
    assert checks["bot is in the support channel"].skipped  # nothing to ask Slack with a token that fails
    assert fake.calls_to("conversations.info") == []


async def test_a_missing_scope_is_named(fake):
    fake.scopes = [s for s in MANIFEST_SCOPES if s not in ("files:write", "usergroups:write")]
    check = by_name(await slack.checks(settings_for(fake)))["scopes"]
    assert not check.ok and check.needed
    assert check.detail == "missing usergroups:write, files:write"
    assert "reinstall the app" in check.advice


async def test_scopes_not_reported_by_slack_are_an_optional_cross(fake):
    fake.scopes = None
    check = by_name(await slack.checks(settings_for(fake)))["scopes"]
    assert not check.ok and not check.needed and "x-oauth-scopes" in check.detail


async def test_a_channel_slack_does_not_know(fake):
    fake.fail("conversations.info", status=200, error="channel_not_found")
    check = by_name(await slack.checks(settings_for(fake)))["bot is in the support channel"]
    assert not check.ok
    assert "PITCHIN_SUPPORT_CHANNEL is “C1”: Slack knows no such channel" in check.detail
    assert "set PITCHIN_SUPPORT_CHANNEL to the channel's id" in check.advice


async def test_not_a_member_says_how_to_invite(fake):
    fake.set_channel("C1", "support", is_member=False)
    check = by_name(await slack.checks(settings_for(fake)))["bot is in the support channel"]
    assert check.line() == ("✗ Slack: bot is in the support channel — #support (C1): Pitchin is not a member\n"
                            "    → invite Pitchin: /invite @Pitchin in #support")


async def test_without_channels_read_membership_is_read_from_the_history(fake):
    # the manifest asks for channels:history, not channels:read: Slack then refuses conversations.info
    fake.fail("conversations.info", status=200, error="missing_scope")
    fake.fail("conversations.history", status=200, error="not_in_channel")
    check = by_name(await slack.checks(settings_for(fake)))["bot is in the support channel"]
    assert not check.ok and check.advice == "invite Pitchin: /invite @Pitchin in the support channel (C1)"
    assert fake.calls_to("conversations.history")[0].args["channel"] == "C1"

    fake.fail("conversations.info", status=200, error="missing_scope")
    check = by_name(await slack.checks(settings_for(fake)))["bot is in the support channel"]
    assert check.ok, check.line()


async def test_socket_mode_token(fake):
    checks = by_name(await slack.checks(settings_for(fake, slack_app_token="xapp-1")))
    assert checks["Socket Mode token (apps.connections.open)"].ok
    assert fake.calls_to("apps.connections.open")[0].headers["Authorization"] == "Bearer xapp-1"

    fake.fail("apps.connections.open", status=200, error="invalid_auth")
    check = by_name(await slack.checks(settings_for(fake, slack_app_token="xapp-1")))[
        "Socket Mode token (apps.connections.open)"]
    assert not check.ok and "invalid_auth" in check.detail and "connections:write" in check.advice


async def test_slack_down_is_a_cross_not_a_crash(fake):
    fake.set_down()
    check = by_name(await slack.checks(settings_for(fake)))["token (auth.test)"]
    assert not check.ok and "HTTP 503" in check.detail and "reaches Slack" in check.advice


async def test_placeholders_are_refused_without_asking_slack(fake):
    checks = by_name(await slack.checks(Settings(slack_bot_token="xoxb-...", slack_signing_secret="...",
                                                 support_channel="C0123456789", slack_api_url=fake.url)))
    assert checks["token (auth.test)"].detail == "SLACK_BOT_TOKEN is “xoxb-...”, the placeholder from .env.example"
    assert checks["bot is in the support channel"].detail.startswith("PITCHIN_SUPPORT_CHANNEL is “C0123456789”")
    assert checks["signing secret"].detail == "SLACK_SIGNING_SECRET is “...”, the placeholder from .env.example"
    assert fake.calls == []
