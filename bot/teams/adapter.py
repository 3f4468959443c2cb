"""botbuilder's CloudAdapter with Pitchin's settings, its error boundary, and the /api/messages route.

Authentication is botbuilder's own: with MICROSOFT_APP_ID set, an activity without a valid Bot
Framework token is refused (401); with it empty, authentication is off (local use and tests).
"""

from __future__ import annotations

import logging

from aiohttp import web
from botbuilder.core import Bot, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityEventNames, ActivityTypes
from msrest.exceptions import DeserializationError

from bot.config import Settings
from bot.request_body import MAX_JSON_BYTES, parse_json, read_or_refuse
from bot.teams.inbound import tenant_of
from bot.teams.tenant import TenantGate

log = logging.getLogger("pitchin.teams")

# the made-up activities botbuilder runs a proactive turn with
PROACTIVE = (ActivityEventNames.continue_conversation, ActivityEventNames.create_conversation)


class BotConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings):
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password
        self.APP_TYPE = settings.microsoft_app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id


def make_adapter(settings: Settings) -> CloudAdapter:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(BotConfig(settings)))

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        if context.activity.type == ActivityTypes.event and context.activity.name in PROACTIVE:
            raise error  # Pitchin's own post (TeamsChat): the delivery worker reports and retries it
        # the one error boundary for turns Teams started: log it, and tell the person something went wrong
        log.error("Teams turn failed on a %s activity: %s", context.activity.type, error, exc_info=error)
        if context.activity.type == ActivityTypes.message:
            try:
                await context.send_activity("Sorry, Pitchin could not do that just now; it has been logged. "
                                            "Please try again in a minute.")
            except Exception:  # the connector itself may be what failed
                log.warning("could not tell the person about the failure either")

    adapter.on_turn_error = on_turn_error
    return adapter


def _refuse(status: int, message: str, **headers) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _unauthorised(exc: Exception) -> web.Response:
    log.warning("refused an activity on /api/messages: %s", str(exc)[:200] or type(exc).__name__)
    return _refuse(401, "Missing or invalid Bot Framework token: this endpoint only takes activities from "
                        "Microsoft Teams (the Bot Framework Service), signed for MICROSOFT_APP_ID.",
                   **{"WWW-Authenticate": 'Bearer realm="botframework"'})


def _json(body):
    """An invoke response's body as JSON data: botbuilder's handlers give it serialised already (a dict),
    a model is serialised here."""
    if body is None or isinstance(body, (dict, list, str, int, float, bool)):
        return body
    return serializer_helper(body)


def http_handler(adapter: CloudAdapter, bot: Bot, tenants: TenantGate):
    """POST /api/messages: one Bot Framework activity as JSON.

    The same steps as CloudAdapter.process, split in two so that every way a token can fail
    botbuilder's check is a 401 that says so (process answers some forged tokens with a 500);
    then an activity from a tenant this Pitchin does not serve is refused (403) before the bot
    reads or changes anything."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return _refuse(415, "Bot Framework activities are JSON: send Content-Type: application/json.")
        raw = await read_or_refuse(request, MAX_JSON_BYTES)
        if isinstance(raw, web.Response):  # too large, or too slow
            return raw
        try:
            body = parse_json(raw)
        except ValueError as exc:
            return _refuse(400, f"{exc}: POST one Bot Framework activity.")
        if not isinstance(body, dict) or not body.get("type"):
            return _refuse(400, "Not an activity: the JSON object needs at least a \"type\".")
        try:
            activity = Activity().deserialize(body)
        except DeserializationError as exc:
            return _refuse(400, f"Not a Bot Framework activity: {exc}")
        try:
            auth = await adapter.bot_framework_authentication.authenticate_request(
                activity, request.headers.get("Authorization", ""))
        except PermissionError as exc:  # no token, or one not meant for this bot
            return _unauthorised(exc)
        except OSError as exc:  # requests' errors are OSErrors too: the signing keys could not be fetched
            log.error("could not check a Bot Framework token: %s", exc)
            return _refuse(503, "Pitchin could not fetch the Bot Framework's signing keys to check this request; "
                                "try again later.")
        except Exception as exc:  # a forged or broken token: botbuilder raises jwt errors or a bare Exception
            return _unauthorised(exc)
        tenant = tenant_of(activity)
        if not await tenants.allows(tenant):
            log.warning("refused a %.32s activity from tenant %.64r: Pitchin serves another tenant",
                        activity.type, tenant)
            return _refuse(403, "This Pitchin serves another Microsoft 365 organisation: activities from "
                                "your tenant are refused.")
        invoke_response = await adapter.process_activity(auth, activity, bot.on_turn)
        if invoke_response:
            return web.json_response(data=_json(invoke_response.body), status=invoke_response.status)
        return web.Response(status=201)

    return handle
