"""A fake Slack Web API (a real aiohttp server on 127.0.0.1) plus builders of signed Slack requests.

Usage::

    fake = FakeSlackApi()
    await fake.start()
    client = AsyncWebClient(token="xoxb-test", base_url=fake.url)
    ...
    calls = await fake.wait_for("chat.postMessage")
    assert fake.violations == []
    await fake.stop()

or ``async with FakeSlackApi() as fake: ...``.

Every Web API call (``GET``/``POST /api/<method>``; slack_sdk uses GET for a few
read methods such as ``users.info``) is recorded as a :class:`Call` and checked
against Slack's OpenAPI spec (:mod:`tests.fakes.slack_contract`). Posts to any
other path (``response_url`` posts from Bolt's ``respond()``) are recorded with
method ``"response_url"``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from multidict import CIMultiDict
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_contract import SlackContract, contract_available

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
TEAM_NAME = "Acme"
TEAM_DOMAIN = "acme"
BOT_USER_NAME = "pitchin"
API_APP_ID = "A1"
VERIFICATION_TOKEN = "verification-token"

# String-valued arguments that Slack takes as JSON text in form bodies; the fake
# decodes them so tests can inspect structures whatever encoding the SDK chose.
_JSON_STRING_ARGS = ("blocks", "attachments", "view", "metadata")


@dataclass
class Call:
    """One request the fake received."""

    method: str  # Web API method, e.g. "chat.postMessage"; "response_url" for response_url posts
    args: dict[str, Any]  # query + form/JSON body merged; blocks/attachments/view/metadata JSON-decoded
    headers: CIMultiDict  # request headers (case-insensitive)
    path: str = ""  # request path, e.g. "/api/chat.postMessage" or "/response/abc"
    http_method: str = "POST"
    body: str = ""  # raw request body
    status: int = 200  # HTTP status the fake answered
    response: Any = None  # JSON body the fake answered

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.response, dict) and bool(self.response.get("ok"))

    def __repr__(self) -> str:  # short, for assertion messages
        return f"Call({self.method!r}, {self.args!r}, status={self.status})"


@dataclass
class _Failure:
    times: int
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlackApi:
    """Stands where https://slack.com/api/ would, on a free port of 127.0.0.1."""

    def __init__(self, *, check_contract: bool | None = None, require_auth: bool = True) -> None:
        """
        check_contract: check every Web API call against the OpenAPI spec; default: on when
            the spec file is present (../shared), off otherwise.
        require_auth: answer ``not_authed`` (like Slack) when a Web API call carries no token.
        """
        if check_contract is None:
            check_contract = contract_available()
        self.contract: SlackContract | None = SlackContract() if check_contract else None
        self.require_auth = require_auth
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message as posted/updated
        self.socket_mode_url: str | None = None  # answered by apps.connections.open
        self._users: dict[str, dict[str, str]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._responses: dict[str, dict[str, Any] | Callable[[Call], dict[str, Any]]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._down = False
        self._ts_counter = itertools.count(1)
        self._view_counter = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._waiters: set[asyncio.Event] = set()  # one per running wait_for(), woken on every call
        self.host = "127.0.0.1"
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "FakeSlackApi":
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_route("POST", "/{tail:.*}", self._handle_response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.socket_mode_url is None:
            self.socket_mode_url = f"ws://{self.host}:{self.port}/socket-mode"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeSlackApi":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeSlackApi not started; await start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Web API base URL for ``AsyncWebClient(base_url=...)``; ends in ``/api/``."""
        return f"{self.base}/api/"

    def url_for_response(self, response_id: str) -> str:
        """A response_url that posts back to this fake (recorded as method ``"response_url"``)."""
        return f"{self.base}/response/{response_id}"

    # ------------------------------------------------------------------ configuration
    def set_user(self, user_id: str, name: str, email: str) -> None:
        """What ``users.info`` answers for ``user_id``."""
        self._users[user_id] = {"name": name, "email": email}

    def set_channel(self, channel_id: str, name: str, *, is_private: bool | None = None, is_member: bool = True) -> None:
        """What ``conversations.info`` answers for ``channel_id``."""
        self._channels[channel_id] = {
            "name": name,
            "is_private": channel_id.startswith("G") if is_private is None else is_private,
            "is_member": is_member,
        }

    def set_socket_mode_url(self, url: str) -> None:
        """The ``url`` answered by ``apps.connections.open``."""
        self.socket_mode_url = url

    def set_response(self, method: str, body: dict[str, Any] | Callable[[Call], dict[str, Any]] | None) -> None:
        """Override the answer of ``method`` (a dict, or a function of the Call); None restores the default."""
        if body is None:
            self._responses.pop(method, None)
        else:
            self._responses[method] = body

    def fail(self, method: str, times: int = 1, status: int = 500, error: str | None = None) -> None:
        """The next ``times`` calls of ``method`` answer HTTP ``status`` with ``{"ok": false, "error": ...}``.

        With ``status=200`` this emulates a Slack API error (e.g. ``error="channel_not_found"``).
        ``method`` may be ``"response_url"``.
        """
        if error is None:
            error = "fatal_error" if status >= 500 else ("request_failed" if status != 200 else "internal_error")
        self._failures.setdefault(method, []).append(_Failure(times, status, {"ok": False, "error": error}))

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After`` like Slack."""
        self._failures.setdefault(method, []).append(
            _Failure(times, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        )

    def set_down(self, down: bool = True) -> None:
        """While down, every Web API call answers HTTP 503."""
        self._down = down

    def reset(self) -> None:
        """Forget calls, violations, failures and overrides (users/channels stay)."""
        self.calls.clear()
        self.violations.clear()
        self._failures.clear()
        self._responses.clear()
        self._down = False

    # ------------------------------------------------------------------ queries
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until at least ``count`` calls of ``method`` (matching ``where``) arrived; return them all.

        Raises AssertionError listing the calls seen so far on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        changed = asyncio.Event()
        self._waiters.add(changed)
        try:
            return await self._wait_loop(method, count, timeout, where, deadline, changed)
        finally:
            self._waiters.discard(changed)

    async def _wait_loop(
        self,
        method: str,
        count: int,
        timeout: float,
        where: Callable[[Call], bool] | None,
        deadline: float,
        changed: asyncio.Event,
    ) -> list[Call]:
        loop = asyncio.get_running_loop()
        while True:
            matching = [c for c in self.calls_to(method) if where is None or where(c)]
            if len(matching) >= count:
                return matching
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = "\n  ".join(repr(c) for c in self.calls) or "(none)"
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} call(s) to {method}"
                    f"{' matching where=' if where else ''}; got {len(matching)}. Calls seen:\n  {seen}"
                )
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), timeout=min(remaining, 0.05))
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ request handling
    def _record(self, call: Call) -> None:
        self.calls.append(call)
        for waiter in self._waiters:
            waiter.set()

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        while queue:
            failure = queue[0]
            if failure.times <= 0:
                queue.pop(0)
                continue
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure
        return None

    @staticmethod
    async def _parse_args(request: web.Request, raw: str) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if raw:
            if ctype == "application/json":
                body = json.loads(raw)
                if isinstance(body, dict):
                    args.update(body)
            elif ctype == "multipart/form-data":
                pass  # file uploads: not used by Pitchin
            else:
                args.update(dict(parse_qsl(raw, keep_blank_values=True)))
        for key in _JSON_STRING_ARGS:
            value = args.get(key)
            if isinstance(value, str) and value[:1] in ("[", "{"):
                try:
                    args[key] = json.loads(value)
                except ValueError:
                    pass
        return args

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
        return web.json_response(body, status=status, headers=dict(headers or {}))

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        raw = await request.text()
        args = await self._parse_args(request, raw)
        call = Call("response_url", args, CIMultiDict(request.headers), request.path, request.method, raw)
        self._record(call)
        failure = self._take_failure("response_url")
        if failure is not None:
            call.status, call.response = failure.status, failure.body
            return self._json(failure.body, failure.status, failure.headers)
        call.response = {"ok": True}
        return self._json(call.response)

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        try:
            args = await self._parse_args(request, raw)
        except ValueError:
            args = {}
        call = Call(method, args, CIMultiDict(request.headers), request.path, request.method, raw)
        self._record(call)

        problems = self.contract.check(method, args) if self.contract is not None else []
        self.violations.extend(problems)

        def answer(body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
            call.status, call.response = status, body
            return self._json(body, status, headers)

        if self._down:
            return answer({"ok": False, "error": "service_unavailable"}, 503)
        failure = self._take_failure(method)
        if failure is not None:
            return answer(failure.body, failure.status, failure.headers)
        if problems:
            unknown = self.contract is not None and not self.contract.has_method(method)
            if unknown:
                return answer({"ok": False, "error": "unknown_method", "req_method": method})
            return answer({"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}})
        if self.require_auth and not _has_token(request, args):
            return answer({"ok": False, "error": "not_authed"})
        override = self._responses.get(method)
        if override is not None:
            return answer(override(call) if callable(override) else override)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        return answer(handler(args) if handler else {"ok": True})

    # ------------------------------------------------------------------ canned Slack answers
    def _next_ts(self) -> str:
        n = next(self._ts_counter) * 100
        return f"{1700000000 + n // 1_000_000}.{n % 1_000_000:06d}"

    def _api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_USER_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": API_APP_ID,
            "team": TEAM_ID,
            "text": args.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in args:
                msg[key] = args[key]
        return msg

    def _api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        channel = str(args.get("channel", ""))
        msg = self._message(args, ts)
        self.messages[(channel, ts)] = msg
        return {"ok": True, "channel": channel, "ts": ts, "message": msg}

    def _api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        msg = self.messages.get((channel, ts)) or self._message({}, ts)
        msg.update({k: args[k] for k in ("text", "blocks", "attachments", "metadata") if k in args})
        self.messages[(channel, ts)] = msg
        return {"ok": True, "channel": channel, "ts": ts, "text": msg.get("text", ""), "message": msg}

    def _api_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _api_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("message_ts", ""))
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _api_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user", ""))
        conf = self._users.get(user_id)
        real_name = conf["name"] if conf else f"User {user_id}"
        display_name = conf["name"] if conf else user_id.lower()
        email = conf["email"] if conf else f"{user_id.lower()}@example.com"
        is_bot = user_id == BOT_USER_ID
        profile = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "team": TEAM_ID,
        }
        if not is_bot:
            profile["email"] = email
        else:
            profile["bot_id"] = BOT_ID
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": BOT_USER_NAME if is_bot else email.split("@")[0],
                "deleted": False,
                "real_name": real_name,
                "tz": "Europe/London",
                "is_bot": is_bot,
                "is_app_user": False,
                "profile": profile,
            },
        }

    def _channel(self, channel_id: str) -> dict[str, Any]:
        conf = self._channels.get(channel_id, {})
        is_private = conf.get("is_private", channel_id.startswith("G"))
        return {
            "id": channel_id,
            "name": conf.get("name", f"channel-{channel_id.lower()}"),
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": channel_id.startswith("D"),
            "is_private": is_private,
            "is_archived": False,
            "is_member": conf.get("is_member", True),
            "context_team_id": TEAM_ID,
        }

    def _api_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": self._channel(str(args.get("channel", "")))}

    def _api_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel", ""))
        self._channels.setdefault(channel_id, {})["is_member"] = True
        return {"ok": True, "channel": self._channel(channel_id)}

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        view = dict(view) if isinstance(view, dict) else {}
        view_id = args.get("view_id") or f"V{next(self._view_counter):08d}"
        view.update({"id": view_id, "team_id": TEAM_ID, "app_id": API_APP_ID, "bot_id": BOT_ID, "hash": uuid.uuid4().hex})
        return {"ok": True, "view": view}

    def _api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view(args)

    def _api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view(args)

    def _api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view(args)

    def _api_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_mode_url}


def _has_token(request: web.Request, args: Mapping[str, Any]) -> bool:
    auth = request.headers.get("Authorization", "")
    return auth.startswith("Bearer ") and len(auth) > len("Bearer ") or bool(args.get("token"))


# ============================================================================
# Builders of the exact requests Slack sends to the app
# ============================================================================


def sign(secret: str, body: str, timestamp: int | None = None, content_type: str | None = None) -> dict[str, str]:
    """Slack request-signing headers for ``body`` (``X-Slack-Request-Timestamp``, ``X-Slack-Signature``).

    ``content_type`` (e.g. "application/json", "application/x-www-form-urlencoded") is added as
    ``Content-Type`` when given.
    """
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    signature = SignatureVerifier(signing_secret=secret).generate_signature(timestamp=ts, body=body)
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _now_ts() -> str:
    return f"{time.time():.6f}"


def _new_event_id() -> str:
    return "Ev" + uuid.uuid4().hex[:10].upper()


def _trigger_id() -> str:
    digits = "".join(str(int(c, 16) % 10) for c in uuid.uuid4().hex[:26])
    return f"{digits[:13]}.{digits[13:26]}.{hashlib.sha1(digits.encode()).hexdigest()}"


def _channel_type(channel: str) -> str:
    return {"C": "channel", "G": "group", "D": "im"}.get(channel[:1], "channel")


def event_envelope(
    event: Mapping[str, Any],
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    event_time: int | None = None,
    authed_users: list[str] | None = None,
) -> dict[str, Any]:
    """The Events API ``event_callback`` envelope as a dict (see :func:`event_body`)."""
    ev = dict(event)
    ev.setdefault("event_ts", ev.get("ts") or _now_ts())
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": ev,
        "type": "event_callback",
        "event_id": event_id or _new_event_id(),
        "event_time": int(time.time()) if event_time is None else int(event_time),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex,
        "authed_users": list(authed_users) if authed_users is not None else [BOT_USER_ID],
    }


def event_body(
    event: Mapping[str, Any],
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    event_time: int | None = None,
    authed_users: list[str] | None = None,
) -> str:
    """JSON body of an Events API ``event_callback`` POST (Content-Type: application/json).

    ``event_id`` defaults to a fresh unique id; pass the same one twice to emulate a Slack retry.
    ``event.event_ts`` defaults to ``event.ts``.
    """
    return json.dumps(event_envelope(event, event_id, team_id, api_app_id, event_time, authed_users))


def message_event(
    channel: str,
    user: str | None,
    text: str,
    ts: str,
    thread_ts: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``message`` event as Slack sends it inside an envelope.

    ``extra`` adds or overrides keys (e.g. ``subtype="bot_message", bot_id="B2"``,
    ``parent_user_id=...``, ``team="T2"``); keys whose value is None are dropped.
    """
    event: dict[str, Any] = {
        "type": "message",
        "client_msg_id": str(uuid.uuid4()),
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": uuid.uuid4().hex[:5],
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "team": TEAM_ID,
        "thread_ts": thread_ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": _channel_type(channel),
    }
    event.update(extra)
    return {k: v for k, v in event.items() if v is not None}


def block_action_payload(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    *,
    block_id: str | None = None,
    message: Mapping[str, Any] | None = None,
    api_app_id: str = API_APP_ID,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> dict[str, Any]:
    """The ``block_actions`` payload dict of a button click on a message (see :func:`block_action_body`)."""
    block_id = block_id or "b-" + action_id
    name = user_name or user_id.lower()
    msg: dict[str, Any] = {
        "type": "message",
        "text": "",
        "ts": message_ts,
        "bot_id": BOT_ID,
        "user": BOT_USER_ID,
        "app_id": api_app_id,
        "team": team_id,
        "blocks": [
            {
                "type": "actions",
                "block_id": block_id,
                "elements": [
                    {
                        "type": "button",
                        "action_id": action_id,
                        "text": {"type": "plain_text", "text": action_id, "emoji": True},
                        "value": value,
                    }
                ],
            }
        ],
    }
    if message:
        msg.update(message)
        msg["ts"] = message_ts
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name or f"channel-{channel_id.lower()}"},
        "message": msg,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": _now_ts(),
            }
        ],
    }


def block_action_body(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    **kwargs: Any,
) -> str:
    """Form-encoded ``payload=<json>`` body of a button click, as Slack POSTs interactivity
    (Content-Type: application/x-www-form-urlencoded). ``kwargs``: see :func:`block_action_payload`."""
    payload = block_action_payload(
        action_id, value, user_id, channel_id, message_ts, response_url, team_id, trigger_id, **kwargs
    )
    return urlencode({"payload": json.dumps(payload)})


def slash_command_body(
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    team_id: str = TEAM_ID,
    *,
    trigger_id: str | None = None,
    user_name: str | None = None,
    channel_name: str | None = None,
    api_app_id: str = API_APP_ID,
) -> str:
    """Form-encoded slash command body, field for field as Slack POSTs it
    (Content-Type: application/x-www-form-urlencoded)."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name or f"channel-{channel_id.lower()}",
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or _trigger_id(),
        }
    )
