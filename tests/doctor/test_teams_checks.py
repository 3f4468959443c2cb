"""`pitchin doctor`, Teams: the app id and password get a Bot Framework token from the (fake) Microsoft
login, and a tenant is set — each ✗ with what to do."""

from __future__ import annotations

import socket

import pytest
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference

from bot.config import Settings, load_settings
from bot.doctor import teams
from handlers import channels
from handlers.base import Actor
from handlers.context import Context
from storage.db import Database
from tests.fakes.bot_login import BOT_FRAMEWORK_TENANT, FakeBotLogin

APP = "00000000-aaaa-4bbb-8ccc-000000000001"
SECRET = "s3cr3t~value"
TENANT = "tenant-acme"


@pytest.fixture
async def login():
    fake = await FakeBotLogin(apps={APP: SECRET}).start()
    yield fake
    await fake.stop()


def teams_settings(login_url: str, database_url: str, **overrides) -> Settings:
    values = dict(microsoft_app_id=APP, microsoft_app_password=SECRET, microsoft_login_url=login_url,
                  database_url=database_url)
    return Settings(**{**values, **overrides})


def by_name(found, start: str):
    (check,) = [c for c in found if c.name.startswith(start)]
    return check


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_not_configured_is_skipped_and_asks_nothing(login, sqlite_url):
    found = await teams.checks(Settings(database_url=sqlite_url))
    assert [(c.skipped, c.ok) for c in found] == [(True, True)]
    assert "not configured" in found[0].line() and found[0].line().startswith("–")
    assert login.requests == []


async def test_right_password_gets_a_token_from_the_login_the_settings_name(login, sqlite_url):
    settings = load_settings({"MICROSOFT_APP_ID": APP, "MICROSOFT_APP_PASSWORD": SECRET,
                              "MICROSOFT_LOGIN_URL": login.url, "MICROSOFT_APP_TENANT_ID": TENANT,
                              "DATABASE_URL": sqlite_url}, dotenv=None)
    found = await teams.checks(settings)
    token = by_name(found, "app id and password")
    assert token.ok and not token.skipped, token.line()
    assert token.line() == f"✓ Teams: app id and password (Bot Framework login) — got a token for {APP} (multi-tenant app)"
    # asked as botbuilder asks: the Bot Framework's tenant, the client-credentials grant, its scope
    ((tenant, form),) = login.requests
    assert tenant == BOT_FRAMEWORK_TENANT
    assert form == {"grant_type": "client_credentials", "client_id": APP, "client_secret": SECRET,
                    "scope": "https://api.botframework.com/.default"}
    tenant_line = by_name(found, "tenant")
    assert tenant_line.ok and f"serves tenant {TENANT} (MICROSOFT_APP_TENANT_ID)" in tenant_line.line()


async def test_wrong_password_says_to_use_the_secrets_value(login, sqlite_url):
    found = await teams.checks(teams_settings(login.url, sqlite_url, microsoft_app_password="the-secret-id"))
    token = by_name(found, "app id and password")
    assert not token.ok and token.needed
    assert f"wrong password for app {APP}" in token.detail and "AADSTS7000215" in token.detail
    assert "MICROSOFT_APP_PASSWORD must be a client secret's Value (not its Secret ID)" in token.line()
    assert token.line().startswith("✗ Teams: app id and password")


async def test_unknown_app_id_points_at_the_app_id_and_the_single_tenant_setting(login, sqlite_url):
    found = await teams.checks(teams_settings(login.url, sqlite_url, microsoft_app_id="not-registered"))
    token = by_name(found, "app id and password")
    assert not token.ok and "unknown app id not-registered" in token.detail
    assert "check MICROSOFT_APP_ID" in token.advice and "MICROSOFT_APP_TYPE=SingleTenant" in token.advice


async def test_single_tenant_app_logs_in_at_its_own_tenant(login, sqlite_url):
    login.register("single-app", "its-secret", tenant=TENANT)
    settings = teams_settings(login.url, sqlite_url, microsoft_app_id="single-app", microsoft_app_password="its-secret",
                              microsoft_app_type="SingleTenant", microsoft_app_tenant_id=TENANT)
    token = by_name(await teams.checks(settings), "app id and password")
    assert token.ok and f"single-tenant app of {TENANT}" in token.detail
    assert [tenant for tenant, _ in login.requests] == [TENANT]


async def test_unknown_tenant_says_where_the_tenant_id_is(login, sqlite_url):
    settings = teams_settings(login.url, sqlite_url, microsoft_app_type="SingleTenant",
                              microsoft_app_tenant_id="tenant-typo")
    token = by_name(await teams.checks(settings), "app id and password")
    assert not token.ok and "unknown tenant tenant-typo" in token.detail
    assert "Directory (tenant) ID" in token.advice


async def test_unreachable_login_is_a_cross_with_network_advice(sqlite_url):
    url = f"http://127.0.0.1:{free_port()}"
    token = by_name(await teams.checks(teams_settings(url, sqlite_url)), "app id and password")
    assert not token.ok and token.needed
    assert token.detail.startswith(f"could not reach {url}")
    assert "network, proxy and firewall" in token.advice


async def test_pitchin_teams_without_an_app_id_is_a_warning_for_local_trials_only(sqlite_url):
    (check,) = await teams.checks(Settings(teams=True, database_url=sqlite_url))
    assert not check.ok and not check.needed and not check.skipped
    assert "unauthenticated" in check.detail and "local trial only" in check.advice


async def test_the_tenant_of_the_chosen_ticket_channel_counts(login, any_db_url):
    db = Database(any_db_url)
    db.upgrade()
    try:
        place = ConversationReference(
            channel_id="msteams", service_url="http://127.0.0.1:1", bot=ChannelAccount(id="28:pitchin", name="Pitchin"),
            conversation=ConversationAccount(id="19:support", is_group=True, conversation_type="channel",
                                             tenant_id=TENANT))
        channels.set_ticket_channel(Context(db=db), Actor("teams", "29:ann", "Ann", tenant=TENANT), "teams",
                                    place.serialize(), "19:support")
    finally:
        db.dispose()
    check = by_name(await teams.checks(teams_settings(login.url, any_db_url)), "tenant")
    assert check.ok and f"serves tenant {TENANT}" in check.detail and "tickets here" in check.detail


async def test_no_tenant_yet_is_a_warning_that_says_how_to_choose(login, sqlite_url, database):
    check = by_name(await teams.checks(teams_settings(login.url, sqlite_url)), "tenant")
    assert not check.ok and not check.needed
    assert "any Microsoft 365 organisation can talk to the bot" in check.detail
    assert "@Pitchin tickets here" in check.advice and "MICROSOFT_APP_TENANT_ID" in check.advice


async def test_an_unreadable_database_leaves_the_tenant_to_the_database_check(login, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    (tmp_path / "empty.db").write_bytes(b"")  # a file, but no tables: not migrated
    check = by_name(await teams.checks(teams_settings(login.url, url)), "tenant")
    assert not check.ok and not check.needed
    assert "could not read the Teams ticket channel" in check.detail and "Database check" in check.advice


async def test_an_unreachable_postgresql_leaves_the_tenant_to_the_database_check(login):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/pitchin"
    check = by_name(await teams.checks(teams_settings(login.url, url)), "tenant")
    assert not check.ok and not check.needed and "could not read the Teams ticket channel" in check.detail
