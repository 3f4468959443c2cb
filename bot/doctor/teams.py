"""`pitchin doctor`, Teams: the app id and password get a Bot Framework token, and a tenant is set.

The token is asked for as botbuilder asks for it when Pitchin posts (MicrosoftAppCredentials, with
msal): the client-credentials grant at ``{MICROSOFT_LOGIN_URL}/{tenant}/oauth2/v2.0/token``, where
the tenant is ``botframework.com`` for a multi-tenant app and MICROSOFT_APP_TENANT_ID for a
single-tenant one, for the scope ``https://api.botframework.com/.default``. It is one plain POST,
so it is sent with aiohttp here and botbuilder stays inside bot/teams/.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.doctor.result import Check
from bot.one_line import one_line

AREA = "Teams"
TIMEOUT = 5.0  # seconds for the whole token request, and for reading the tenant from the database
BOT_FRAMEWORK_TENANT = "botframework.com"  # where multi-tenant bot apps live (botbuilder's default)
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
SECRETS_PAGE = "Azure portal → App registrations → your bot's app → Certificates & secrets"


async def checks(settings: Settings, send_to: str | None = None) -> list[Check]:
    if not settings.teams_enabled:
        return [Check(AREA, "Bot Framework login", ok=True, skipped=True,
                      detail="not configured (MICROSOFT_APP_ID is not set)")]
    if not settings.teams_authenticated:
        return [Check(AREA, "authentication", ok=False, needed=False,
                      detail="PITCHIN_TEAMS=1 without MICROSOFT_APP_ID: /api/messages takes activities from "
                             "anyone, unauthenticated",
                      advice="fine for a local trial only; for Microsoft Teams register an Azure Bot and set "
                             "MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD instead")]
    return [await token_check(settings), await tenant_check(settings)]


# ---------------------------------------------------------------- the token


async def token_check(settings: Settings) -> Check:
    name = "app id and password (Bot Framework login)"
    app_id = settings.microsoft_app_id
    if settings.microsoft_app_type == "UserAssignedMSI":
        return Check(AREA, name, ok=True, skipped=True,
                     detail="a managed identity gets its token from Azure's own identity endpoint, which "
                            "answers only on the Azure host itself")
    if not settings.microsoft_app_password:
        return Check(AREA, name, ok=False, detail="MICROSOFT_APP_PASSWORD is not set",
                     advice=f"create a client secret in {SECRETS_PAGE} and set MICROSOFT_APP_PASSWORD to its Value")
    single = settings.microsoft_app_type == "SingleTenant"
    tenant = settings.microsoft_app_tenant_id if single else BOT_FRAMEWORK_TENANT
    url = f"{settings.microsoft_login_url.rstrip('/')}/{tenant}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": app_id,
            "client_secret": settings.microsoft_app_password, "scope": BOT_FRAMEWORK_SCOPE}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
            async with session.post(url, data=form) as response:
                status = response.status
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
    except asyncio.TimeoutError:
        return _unreachable(settings, name, f"no answer within {TIMEOUT:g} s")
    except aiohttp.ClientError as exc:
        return _unreachable(settings, name, one_line(str(exc) or type(exc).__name__))
    if status == 200 and isinstance(answer, dict) and answer.get("access_token"):
        kind = f"single-tenant app of {tenant}" if single else "multi-tenant app"
        return Check(AREA, name, ok=True, detail=f"got a token for {app_id} ({kind})")
    if not isinstance(answer, dict):
        return Check(AREA, name, ok=False, detail=f"the login at {url} answered {status} without a token",
                     advice=f"check MICROSOFT_LOGIN_URL ({settings.microsoft_login_url}); normally it is not set")
    return _refused(settings, name, tenant, status, answer)


def _refused(settings: Settings, name: str, tenant: str, status: int, answer: dict) -> Check:
    """Microsoft's error, as an admin can act on it (the AADSTS code says which setting is wrong)."""
    error = str(answer.get("error") or "")
    description = str(answer.get("error_description") or "")
    code = re.match(r"AADSTS(\d+)", description)
    said = f"{status} {error}: {one_line(description.splitlines()[0] if description else '', 90)}".rstrip(": ")
    app_id = settings.microsoft_app_id
    if code and code.group(1) == "7000222":
        return Check(AREA, name, ok=False, detail=f"the client secret has expired ({said})",
                     advice=f"create a new client secret in {SECRETS_PAGE} and set MICROSOFT_APP_PASSWORD to its "
                            "Value")
    if (code and code.group(1) == "7000215") or error == "invalid_client":
        return Check(AREA, name, ok=False, detail=f"wrong password for app {app_id} ({said})",
                     advice=f"MICROSOFT_APP_PASSWORD must be a client secret's Value (not its Secret ID) from "
                            f"{SECRETS_PAGE}; create a new one if you do not have it")
    if (code and code.group(1) == "700016") or error == "unauthorized_client":
        if tenant == BOT_FRAMEWORK_TENANT:
            advice = ("check MICROSOFT_APP_ID (Azure Bot → Configuration → Microsoft App ID); if the app is "
                      "single-tenant, set MICROSOFT_APP_TYPE=SingleTenant and MICROSOFT_APP_TENANT_ID")
        else:
            advice = (f"check MICROSOFT_APP_ID and MICROSOFT_APP_TENANT_ID: tenant {tenant} has no app with that "
                      "id (both are on the app registration's Overview page)")
        return Check(AREA, name, ok=False, detail=f"unknown app id {app_id} ({said})", advice=advice)
    if code and code.group(1) in ("90002", "900023"):
        return Check(AREA, name, ok=False, detail=f"unknown tenant {tenant} ({said})",
                     advice="set MICROSOFT_APP_TENANT_ID to the Directory (tenant) ID on the app registration's "
                            "Overview page")
    return Check(AREA, name, ok=False, detail=f"the login refused a token ({said})",
                 advice="check MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TYPE against the Azure "
                        "Bot's Configuration page")


def _unreachable(settings: Settings, name: str, why: str) -> Check:
    return Check(AREA, name, ok=False, detail=f"could not reach {settings.microsoft_login_url}: {why}",
                 advice="this machine must reach the Microsoft login over HTTPS to post in Teams: check its "
                        "network, proxy and firewall (and MICROSOFT_LOGIN_URL, which is normally not set)")


# ---------------------------------------------------------------- the tenant


async def tenant_check(settings: Settings) -> Check:
    name = "tenant"
    if settings.microsoft_app_tenant_id:
        return Check(AREA, name, ok=True, detail=f"serves tenant {settings.microsoft_app_tenant_id} "
                                                 "(MICROSOFT_APP_TENANT_ID)")
    choose = ("say “@Pitchin tickets here” in the Teams channel for tickets, or set MICROSOFT_APP_TENANT_ID to "
              "your Directory (tenant) ID")
    try:
        tenant = await asyncio.wait_for(_bound_tenant(settings.database_url), TIMEOUT)
    except Exception as exc:  # unreachable, not migrated: the Database check says what to do
        why = "no answer in time" if isinstance(exc, asyncio.TimeoutError) else one_line(str(exc).splitlines()[0]
                                                                                        if str(exc) else type(exc).__name__)
        return Check(AREA, name, ok=False, needed=False,
                     detail=f"could not read the Teams ticket channel from the database ({why})",
                     advice="see the Database check; or set MICROSOFT_APP_TENANT_ID")
    if tenant:
        return Check(AREA, name, ok=True, detail=f"serves tenant {tenant} (its channel was chosen with “tickets here”)")
    return Check(AREA, name, ok=False, needed=False,
                 detail="none yet: any Microsoft 365 organisation can talk to the bot until one chooses its ticket "
                        "channel", advice=choose)


async def _bound_tenant(database_url: str) -> str | None:
    """The tenant of the Teams ticket channel stored in the database, read as the server reads it."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not Path(url.database).exists():
            return None  # no database yet (and connecting would create an empty file)
    elif url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        # a silent host would otherwise hold the connect (and the process's exit) for minutes
        url = url.update_query_dict({"connect_timeout": str(int(TIMEOUT))})
    from bot.teams.tenant import TenantGate
    from handlers.context import Context
    from storage.db import Database

    db = Database(url.render_as_string(hide_password=False))
    try:
        return await TenantGate(Context(db=db)).tenant()
    finally:
        db.dispose()


