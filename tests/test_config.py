"""Configuration errors name the variable and what it is for; a .env file is read too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from bot.config import ConfigError, load_settings
from storage.db import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_without_anything():
    s = load_settings({}, dotenv=None)
    assert (s.database_url, s.host, s.port, s.undo_seconds) == ("sqlite:///pitchin.db", "127.0.0.1", 3000, 10.0)
    assert not s.slack_enabled


def test_slack_without_secret_and_channel_names_both():
    with pytest.raises(ConfigError) as exc:
        load_settings({"SLACK_BOT_TOKEN": "xoxb-1"}, dotenv=None)
    text = str(exc.value)
    assert "SLACK_SIGNING_SECRET is not set" in text and "signing secret" in text
    assert "PITCHIN_SUPPORT_CHANNEL is not set" in text and "channel id" in text


def test_socket_mode_needs_no_signing_secret():
    s = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "PITCHIN_SUPPORT_CHANNEL": "C1"},
                      dotenv=None)
    assert s.slack_socket_mode


@pytest.mark.parametrize("env, words", [
    ({"PORT": "eighty"}, "PORT is “eighty”, not a port number"),
    ({"PITCHIN_UNDO_SECONDS": "-1"}, "PITCHIN_UNDO_SECONDS is “-1”"),
    ({"PITCHIN_ESCALATE_MINUTES": "0"}, "PITCHIN_ESCALATE_MINUTES is “0”, not a whole number of minutes from 1 to 1440. "
                                        "PITCHIN_ESCALATE_MINUTES is how many working minutes"),
    ({"PITCHIN_ESCALATE_MINUTES": "half an hour"}, "PITCHIN_ESCALATE_MINUTES is “half an hour”, not a whole number"),
    ({"SMTP_URL": "http://mail", "PITCHIN_FROM_EMAIL": "a@b.c"}, "SMTP_URL starts with “http://”"),
    ({"SMTP_URL": "smtp://mail:25"}, "PITCHIN_FROM_EMAIL is not set, but SMTP_URL is"),
    ({"IMAP_URL": "pop3://x"}, "IMAP_URL must start with imap:// or imaps://"),
    ({"DATABASE_URL": "pitchin.db"}, "DATABASE_URL is “pitchin.db”, not a URL"),
    ({"PITCHIN_WEBHOOK_ALLOW": "hooks.internal, 10.0.0.1/8"},
     "PITCHIN_WEBHOOK_ALLOW lists “10.0.0.1/8”, which is not a CIDR network (10.0.0.1/8 has host bits set). "
     "PITCHIN_WEBHOOK_ALLOW is the hosts, IP addresses and CIDR networks a reply_url may reach"),
    ({"PITCHIN_WEBHOOK_ALLOW": "http://hooks.internal:8443/x"},
     "lists “http://hooks.internal:8443/x”, which is not a host name, an IP address or a CIDR network"),
])
def test_bad_values_are_named(env, words):
    with pytest.raises(ConfigError) as exc:
        load_settings(env, dotenv=None)
    assert words in str(exc.value)


def test_surveys_are_on_by_default_after_24_hours_at_most_every_30_days():
    s = load_settings({}, dotenv=None)
    assert (s.surveys, s.survey_delay_hours, s.survey_days, s.public_url) == (True, 24.0, 30, "")


@pytest.mark.parametrize("word, on", [("off", False), ("OFF", False), ("0", False), ("no", False), ("false", False),
                                      ("on", True), ("Yes", True), ("1", True), ("true", True)])
def test_surveys_can_be_switched_off(word, on):
    assert load_settings({"PITCHIN_SURVEYS": word}, dotenv=None).surveys is on


def test_survey_timing_is_read():
    s = load_settings({"PITCHIN_SURVEY_DELAY_HOURS": "0.5", "PITCHIN_SURVEY_DAYS": "90",
                       "PITCHIN_PUBLIC_URL": "https://support.example.com"}, dotenv=None)
    assert (s.survey_delay_hours, s.survey_days, s.public_url) == (0.5, 90, "https://support.example.com")


@pytest.mark.parametrize("env, words", [
    ({"PITCHIN_SURVEYS": "maybe"}, "PITCHIN_SURVEYS is “maybe”; use on or off. PITCHIN_SURVEYS is whether customers "
                                   "get a satisfaction survey"),
    ({"PITCHIN_SURVEY_DELAY_HOURS": "a day"}, "PITCHIN_SURVEY_DELAY_HOURS is “a day”, not a number of hours from 0 "
                                              "to 336. PITCHIN_SURVEY_DELAY_HOURS is how many hours"),
    ({"PITCHIN_SURVEY_DELAY_HOURS": "-1"}, "PITCHIN_SURVEY_DELAY_HOURS is “-1”, not a number of hours"),
    ({"PITCHIN_SURVEY_DELAY_HOURS": "nan"}, "PITCHIN_SURVEY_DELAY_HOURS is “nan”, not a number of hours"),
    ({"PITCHIN_SURVEY_DELAY_HOURS": "1000"}, "PITCHIN_SURVEY_DELAY_HOURS is “1000”, not a number of hours"),
    ({"PITCHIN_SURVEY_DAYS": "30.5"}, "PITCHIN_SURVEY_DAYS is “30.5”, not a whole number of days from 0 to 3650. "
                                      "PITCHIN_SURVEY_DAYS is the fewest days"),
    ({"PITCHIN_SURVEY_DAYS": "-3"}, "PITCHIN_SURVEY_DAYS is “-3”, not a whole number of days"),
    ({"PITCHIN_PUBLIC_URL": "support.example.com"}, "PITCHIN_PUBLIC_URL is “support.example.com”, not a base URL "
                                                    "like https://support.example.com"),
])
def test_bad_survey_settings_say_what_is_wrong(env, words):
    with pytest.raises(ConfigError) as exc:
        load_settings(env, dotenv=None)
    assert words in str(exc.value)


def test_survey_settings_reach_the_core(tmp_path):
    from bot.app import Pitchin

    settings = load_settings({"PITCHIN_SURVEYS": "off", "PITCHIN_SURVEY_DELAY_HOURS": "2", "PITCHIN_SURVEY_DAYS": "7",
                              "PITCHIN_PUBLIC_URL": "https://support.example.com/",
                              "PITCHIN_FROM_EMAIL": "help@Acme.test",
                              "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                              "PITCHIN_MAILDIR": str(tmp_path / "maildir")}, dotenv=None)
    pitchin = Pitchin(settings)
    try:
        ctx = pitchin.ctx
        assert (ctx.surveys, ctx.survey_delay_hours, ctx.survey_days) == (False, 2.0, 7)
        assert ctx.public_url == "https://support.example.com" and ctx.mail_domain == "Acme.test"
    finally:
        pitchin.db.dispose()


def test_escalation_minutes_default_to_30_and_reach_the_core(tmp_path):
    from bot.app import Pitchin

    assert load_settings({}, dotenv=None).escalate_minutes == 30
    settings = load_settings({"PITCHIN_ESCALATE_MINUTES": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                              "PITCHIN_MAILDIR": str(tmp_path / "maildir")}, dotenv=None)
    pitchin = Pitchin(settings)
    try:
        assert pitchin.ctx.escalate_minutes == 1
    finally:
        pitchin.db.dispose()


def test_webhooks_have_their_own_secret_and_allow_list():
    s = load_settings({"PITCHIN_INTAKE_TOKEN": "intake", "PITCHIN_WEBHOOK_ALLOW": "hooks.internal, 10.0.0.0/8,[::1]"},
                      dotenv=None)
    assert s.webhook_allow == "hooks.internal, 10.0.0.0/8,[::1]"
    assert s.webhook_secret == ""  # the intake token does not stand in for it
    assert not hasattr(s, "reply_signing_key")


def test_dotenv_is_read_and_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=4000\nPITCHIN_INTAKE_TOKEN=from-file\n")
    s = load_settings({"PORT": "5000"}, dotenv=dotenv)
    assert s.port == 5000 and s.intake_token == "from-file"


def test_serve_refuses_to_start_with_a_clear_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-1"}
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "Pitchin cannot start" in result.stderr and "SLACK_SIGNING_SECRET is not set" in result.stderr


def test_db_upgrade_command_creates_the_tables(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert f"is at revision {head}" in result.stdout
    again = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and f"is at revision {head}" in again.stdout


def test_teams_is_on_with_an_app_id_or_pitchin_teams():
    assert not load_settings({}, dotenv=None).teams_enabled
    local = load_settings({"PITCHIN_TEAMS": "true"}, dotenv=None)
    assert local.teams_enabled and not local.teams_authenticated
    assert load_settings({"PITCHIN_TEAMS": "1"}, dotenv=None).teams_enabled
    assert not load_settings({"PITCHIN_TEAMS": "0"}, dotenv=None).teams_enabled
    signed = load_settings({"MICROSOFT_APP_ID": "8e4c2a9e-0a4f-4f5e-9d61-3c2b7f0e1a11",
                            "MICROSOFT_APP_PASSWORD": "secret"}, dotenv=None)
    assert signed.teams_enabled and signed.teams_authenticated and signed.microsoft_app_type == "MultiTenant"


@pytest.mark.parametrize("env, words", [
    ({"PITCHIN_TEAMS": "maybe"}, "PITCHIN_TEAMS is “maybe”; use 1 or true"),
    ({"MICROSOFT_APP_ID": "x"}, "MICROSOFT_APP_PASSWORD is not set, but MICROSOFT_APP_ID is"),
    ({"MICROSOFT_APP_ID": "x", "MICROSOFT_APP_PASSWORD": "p", "MICROSOFT_APP_TYPE": "singletenant"},
     "MICROSOFT_APP_TENANT_ID is not set, but MICROSOFT_APP_TYPE is SingleTenant"),
    ({"MICROSOFT_APP_TYPE": "Personal"}, "MICROSOFT_APP_TYPE is “Personal”; use MultiTenant, SingleTenant or UserAssignedMSI"),
])
def test_teams_settings_are_checked(env, words):
    with pytest.raises(ConfigError) as exc:
        load_settings(env, dotenv=None)
    assert words in str(exc.value)


def test_the_package_needs_only_the_app_id():
    s = load_settings({"MICROSOFT_APP_ID": "x"}, dotenv=None, teams_credentials=False)
    assert s.microsoft_app_id == "x"
