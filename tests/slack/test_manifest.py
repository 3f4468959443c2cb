"""The Slack app manifest (manifest.yml at the repo root) is complete and consistent with what Pitchin needs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "manifest.yml"

# Events Pitchin handles -> the bot scope Slack requires for each.
REQUIRED_EVENTS = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_mention": "app_mentions:read",
    "app_home_opened": None,  # no scope needed
}
REQUIRED_SCOPES = {
    "chat:write",
    "chat:write.public",
    "commands",
    "reactions:write",
    "channels:history",
    "groups:history",
    "app_mentions:read",
    "users:read",
    "users:read.email",
    "im:write",
    "usergroups:write",  # `rotation usergroup`: the group follows whoever is on duty
    "files:write",  # /feedback export uploads the CSV (files.getUploadURLExternal / files.completeUploadExternal)
}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))


def test_manifest_parses_with_expected_format(manifest):
    assert isinstance(manifest, dict)
    assert manifest["_metadata"] == {"major_version": 1, "minor_version": 1}
    info = manifest["display_information"]
    assert info["name"] == "Pitchin"
    assert info["description"] and len(info["description"]) <= 140  # Slack's limit for the short description
    assert str(info["background_color"]).startswith("#")
    bot = manifest["features"]["bot_user"]
    assert bot == {"display_name": "Pitchin", "always_online": True}
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True and home["messages_tab_enabled"] is True


def test_slash_command_pitchin(manifest):
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert "/pitchin" in commands
    cmd = commands["/pitchin"]
    assert cmd["description"]
    assert cmd["usage_hint"] == "help | list | who | rotation show"
    # rotations name people: Slack must send them as ids (<@U123|ann>), as bot/slack/inbound.named_in reads
    assert cmd["should_escape"] is True
    assert urlparse(cmd["url"]).path == "/slack/events"


def test_slash_command_feedback_and_its_shortcut_match_the_listeners(manifest):
    from bot.slack.feedback import COMMAND, SHORTCUT
    from bot.slack.use_saved import SHORTCUT as USE_SAVED_SHORTCUT

    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    cmd = commands[COMMAND]
    assert cmd["description"] and cmd["should_escape"] is False
    for word in ("merge", "status", "show", "top", "search", "export", "help"):
        assert word in cmd["usage_hint"], word
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert USE_SAVED_SHORTCUT in shortcuts and shortcuts[USE_SAVED_SHORTCUT]["type"] == "message"
    shortcut = shortcuts[SHORTCUT]
    assert shortcut["type"] == "message" and shortcut["callback_id"] == SHORTCUT
    assert shortcut["name"] == "Log as feedback" and len(shortcut["name"]) <= 24
    assert 0 < len(shortcut["description"]) <= 150
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]  # shortcuts need it like slash commands


def test_the_save_as_reply_shortcut_matches_its_listener(manifest):
    from bot.slack import feedback, use_saved
    from bot.slack.saved import SHORTCUT

    shortcuts = manifest["features"]["shortcuts"]
    # one shortcut per listener, no callback id twice: Log as feedback, Save as reply, Use a saved reply
    assert sorted(s["callback_id"] for s in shortcuts) == sorted([feedback.SHORTCUT, SHORTCUT, use_saved.SHORTCUT])
    shortcut = next(s for s in shortcuts if s["callback_id"] == SHORTCUT)
    assert shortcut["type"] == "message" and shortcut["name"] == "Save as reply" and len(shortcut["name"]) <= 24
    assert 0 < len(shortcut["description"]) <= 150


def test_every_needed_event_is_subscribed_with_its_scope(manifest):
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert set(REQUIRED_EVENTS) <= events, f"missing events: {set(REQUIRED_EVENTS) - events}"
    for event, scope in REQUIRED_EVENTS.items():
        assert scope is None or scope in scopes, f"{event} needs scope {scope}"


def test_scopes_cover_what_pitchin_calls(manifest):
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes)), "duplicate scopes"
    assert REQUIRED_SCOPES <= set(scopes), f"missing scopes: {REQUIRED_SCOPES - set(scopes)}"


def test_every_scope_line_is_commented():
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    lines = text[text.index("    bot:") :].splitlines()[1:]
    scope_lines = []
    for line in lines:
        if not line.startswith("      - "):
            break
        scope_lines.append(line)
    assert scope_lines and all("#" in line for line in scope_lines)


def test_request_urls_point_at_slack_events(manifest):
    settings = manifest["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    for url in urls:
        parsed = urlparse(url)
        assert parsed.scheme == "https" and parsed.path == "/slack/events", url
    assert settings["interactivity"]["is_enabled"] is True


def test_settings_flags(manifest):
    settings = manifest["settings"]
    assert settings["org_deploy_enabled"] is False
    assert settings["socket_mode_enabled"] is False
    assert settings["token_rotation_enabled"] is False
