"""A fake Microsoft login (Entra ID) token endpoint, where https://login.microsoftonline.com would be:
the client-credentials grant a bot uses to get a Bot Framework token. A real aiohttp server on
127.0.0.1.

    login = FakeBotLogin(apps={"app-id": "secret"})            # multi-tenant apps
    login.register("single-app", "its-secret", tenant="tenant-acme")  # a single-tenant app
    await login.start()
    MICROSOFT_LOGIN_URL = login.url
    ... POST {login.url}/{tenant}/oauth2/v2.0/token ...
    login.requests  # every token request: (tenant, form fields)
    await login.stop()

Its answers are Microsoft's, trimmed: a JSON token for the right client secret; for a wrong one
401 ``invalid_client`` (AADSTS7000215); for an app the tenant does not know 400
``unauthorized_client`` (AADSTS700016); for an unknown tenant 400 ``invalid_request`` (AADSTS90002).
A multi-tenant app lives in the Bot Framework's own tenant, ``botframework.com``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from aiohttp import web

BOT_FRAMEWORK_TENANT = "botframework.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"


@dataclass
class FakeBotLogin:
    apps: dict[str, str] = field(default_factory=dict)  # multi-tenant app id → client secret
    tenants: set[str] = field(default_factory=lambda: {BOT_FRAMEWORK_TENANT})
    requests: list[tuple[str, dict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._secrets: dict[tuple[str, str], str] = {(BOT_FRAMEWORK_TENANT, a): s for a, s in self.apps.items()}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def register(self, app_id: str, secret: str, tenant: str = BOT_FRAMEWORK_TENANT) -> None:
        """An app registration: multi-tenant ones in botframework.com, single-tenant ones in their tenant."""
        self.tenants.add(tenant)
        self._secrets[(tenant, app_id)] = secret

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "FakeBotLogin":
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        form = dict(await request.post())
        self.requests.append((tenant, form))
        app_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if form.get("grant_type") != "client_credentials" or form.get("scope") != BOT_FRAMEWORK_SCOPE:
            return _error(400, "invalid_request", "AADSTS900144: The request body must contain the parameters "
                                                  "grant_type=client_credentials and a scope.")
        if tenant not in self.tenants:
            return _error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure "
                                                  "you have the correct tenant ID and are signing into the correct "
                                                  "cloud.")
        expected = self._secrets.get((tenant, app_id))
        if expected is None:
            directory = "Bot Framework" if tenant == BOT_FRAMEWORK_TENANT else tenant
            return _error(400, "unauthorized_client", f"AADSTS700016: Application with identifier '{app_id}' was "
                                                      f"not found in the directory '{directory}'.")
        if secret != expected:
            return _error(401, "invalid_client", f"AADSTS7000215: Invalid client secret provided. Ensure the "
                                                 f"secret being sent in the request is the client secret value, "
                                                 f"not the client secret ID, for a secret added to app '{app_id}'.")
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                  "access_token": f"fake-token-{uuid.uuid4().hex}"})


def _error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description,
                              "error_codes": [int(description[6:description.index(":")])]}, status=status)
