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
against Slack's OpenAPI spec (:mod:`tests.fakes.slack_contract`). Views (views.open,
views.update, views.publish) are also checked against Block Kit's limits
(:func:`view_problems`) and refused with ``invalid_arguments`` like Slack would.
File uploads follow Slack's current flow: ``files.getUploadURLExternal`` answers an
``upload_url`` on this fake, the bytes POSTed there are recorded with method
``"file_upload"``, and ``files.completeUploadExternal`` shares them (see
:attr:`FakeSlackApi.files`). Posts to any other path (``response_url`` posts from
Bolt's ``respond()``) are recorded with method ``"response_url"``.
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
_JSON_STRING_ARGS = ("blocks", "attachments", "view", "metadata", "files")

# Block Kit limits Slack enforces on views (https://docs.slack.dev/reference/block-kit)
VIEW_TITLE_LIMIT = 24  # modal title, submit and close texts
PRIVATE_METADATA_LIMIT = 3000
CALLBACK_ID_LIMIT = 255
BLOCKS_LIMIT = 100
SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
INPUT_MAX_LENGTH = 3000


@dataclass
class UploadedFile:
    """A file as it went through files.getUploadURLExternal → upload_url → files.completeUploadExternal."""

    id: str
    filename: str
    length: int  # as declared to files.getUploadURLExternal
    content: bytes | None = None  # what was POSTed to the upload_url
    title: str = ""
    channel_id: str | None = None  # where files.completeUploadExternal shared it
    initial_comment: str = ""
    completed: bool = False

    @property
    def text(self) -> str:
        return (self.content or b"").decode("utf-8")


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
        self.files: dict[str, UploadedFile] = {}  # file id -> upload (see files.getUploadURLExternal)
        self.views: dict[str, dict[str, Any]] = {}  # open modals by id, as last opened/updated through the API
        # the token's scopes, sent like Slack in the x-oauth-scopes header of every Web API answer;
        # None: no header (tests that do not look at scopes)
        self.scopes: list[str] | None = None
        self._users: dict[str, dict[str, str]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._responses: dict[str, dict[str, Any] | Callable[[Call], dict[str, Any]]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._refusals: list[tuple[str, str | None, dict[str, Any]]] = []  # (method or "*", channel or None, body)
        self._down = False
        self._ts_counter = itertools.count(1)
        self._view_counter = itertools.count(1)
        self._file_counter = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._waiters: set[asyncio.Event] = set()  # one per running wait_for(), woken on every call
        self.host = "127.0.0.1"
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "FakeSlackApi":
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_route("POST", "/upload/v1/{file_id}", self._handle_upload)
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
    def set_user(self, user_id: str, name: str, email: str, tz: str = "Europe/London") -> None:
        """What ``users.info`` answers for ``user_id`` (``tz``: their profile's time zone)."""
        self._users[user_id] = {"name": name, "email": email, "tz": tz}

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

    def refuse(self, method: str, error: str, channel: str | None = None, **fields: Any) -> None:
        """From now on (until ``reset``), every call of ``method`` ("*": of any method) about
        ``channel`` (None: about any) answers HTTP 200 ``{"ok": false, "error": error, **fields}``, as
        Slack answers a refusal that lasts: ``refuse("chat.postMessage", "not_in_channel", "CPRIVATE")``,
        ``refuse("*", "invalid_auth")``, ``refuse("usergroups.users.update", "missing_scope",
        needed="usergroups:write", provided="chat:write")``."""
        self._refusals.append((method, channel, {"ok": False, "error": error, **fields}))

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
        self._refusals.clear()
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

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The upload_url of files.getUploadURLExternal: Slack takes the raw bytes (or a multipart
        form with a ``file`` part) and answers ``OK - <size>`` in plain text."""
        file_id = request.match_info["file_id"]
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = form.get("file") or form.get("filename")
            data = part.file.read() if hasattr(part, "file") else str(part or "").encode()
        else:
            data = await request.read()
        call = Call("file_upload", {"file_id": file_id, "size": len(data)}, CIMultiDict(request.headers),
                    request.path, request.method, data.decode("utf-8", "replace"))
        self._record(call)
        upload = self.files.get(file_id)
        if upload is None or upload.completed:
            call.status, call.response = 404, "not found"
            return web.Response(status=404, text="not found")
        if len(data) != upload.length:
            self.violations.append(f"file_upload {file_id}: {len(data)} bytes sent, {upload.length} declared")
        upload.content = data
        call.response = f"OK - {len(data)}"
        return web.Response(text=call.response)

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
        if method in ("views.open", "views.update", "views.push", "views.publish") and isinstance(args.get("view"), dict):
            problems += [f"{method}: {p}" for p in view_problems(args["view"])]
        self.violations.extend(problems)

        def answer(body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
            call.status, call.response = status, body
            if self.scopes is not None:
                headers = {**(headers or {}), "x-oauth-scopes": ",".join(self.scopes)}
            return self._json(body, status, headers)

        if self._down:
            return answer({"ok": False, "error": "service_unavailable"}, 503)
        failure = self._take_failure(method)
        if failure is not None:
            return answer(failure.body, failure.status, failure.headers)
        refused = next((body for m, channel, body in self._refusals
                        if m in ("*", method) and channel in (None, args.get("channel"))), None)
        if refused is not None:
            return answer(refused)
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
                "tz": conf.get("tz", "Europe/London") if conf else "Europe/London",
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

    def _api_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """A DM with one user: D + the user id (stable, so tests can predict it)."""
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if len(users) != 1:
            return {"ok": False, "error": "users_list_not_supplied" if not users else "not_supported"}
        channel_id = "D" + users[0]
        self._channels.setdefault(channel_id, {"name": users[0], "is_private": True, "is_member": True})
        return {"ok": True, "channel": {"id": channel_id}}

    def _api_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(args.get("filename") or ""), str(args.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._file_counter):08d}"
        self.files[file_id] = UploadedFile(file_id, filename, int(length))
        return {"ok": True, "upload_url": f"{self.base}/upload/v1/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        listed = args.get("files")
        if not isinstance(listed, list) or not listed:
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in listed:
            upload = self.files.get(str((item or {}).get("id")))
            if upload is None or upload.content is None or upload.completed:
                return {"ok": False, "error": "file_not_found"}
            done.append((upload, item))
        channel = args.get("channel_id")
        if channel and str(channel)[:1] not in ("C", "G", "D"):
            return {"ok": False, "error": "invalid_channel"}
        out = []
        for upload, item in done:
            upload.title = str(item.get("title") or upload.filename)
            upload.channel_id = str(channel) if channel else None
            upload.initial_comment = str(args.get("initial_comment") or "")
            upload.completed = True
            out.append({"id": upload.id, "name": upload.filename, "title": upload.title, "size": upload.length,
                        "channels": [upload.channel_id] if upload.channel_id else []})
        return {"ok": True, "files": out}

    def close_view(self, view_id: str) -> None:
        """The person closed the modal: views.update on it now answers ``not_found`` like Slack."""
        self.views.pop(view_id, None)

    def _api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        answer = self._view(args)
        if answer["view"].get("type") == "modal":
            self.views[answer["view"]["id"]] = answer["view"]
        return answer

    def _api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._view(args)

    def _api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if view_id and view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        answer = self._view(args)
        if view_id:
            self.views[view_id] = answer["view"]
        return answer

    def _api_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_mode_url}


def _text_of(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _block_problems(blocks: Any, where: str) -> list[str]:
    if not isinstance(blocks, list):
        return [f"{where}: blocks must be a list"]
    out = []
    if len(blocks) > BLOCKS_LIMIT:
        out.append(f"{where}: {len(blocks)} blocks (limit {BLOCKS_LIMIT})")
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        at = f"{where}: block {i} ({kind})"
        if kind == "section" and len(_text_of(block.get("text"))) > SECTION_TEXT_LIMIT:
            out.append(f"{at}: text longer than {SECTION_TEXT_LIMIT}")
        elif kind == "header" and len(_text_of(block.get("text"))) > HEADER_TEXT_LIMIT:
            out.append(f"{at}: text longer than {HEADER_TEXT_LIMIT}")
        elif kind == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    if len(_text_of(element.get("text"))) > BUTTON_TEXT_LIMIT:
                        out.append(f"{at}: button text longer than {BUTTON_TEXT_LIMIT}")
                    if len(str(element.get("value", ""))) > BUTTON_VALUE_LIMIT:
                        out.append(f"{at}: button value longer than {BUTTON_VALUE_LIMIT}")
        elif kind == "input":
            element = block.get("element") or {}
            if not element.get("action_id") or not block.get("label"):
                out.append(f"{at}: an input needs a label and an element with an action_id")
            if element.get("type") == "plain_text_input":
                limit = element.get("max_length", INPUT_MAX_LENGTH)
                if limit > INPUT_MAX_LENGTH:
                    out.append(f"{at}: max_length over {INPUT_MAX_LENGTH}")
                if len(element.get("initial_value", "")) > limit:
                    out.append(f"{at}: initial_value longer than max_length {limit}")
            if element.get("type") == "static_select" and "initial_option" in element:
                if element["initial_option"] not in element.get("options", []):
                    out.append(f"{at}: initial_option is not one of the options")
        elif kind not in ("section", "header", "actions", "input", "context", "divider", "image", "rich_text"):
            out.append(f"{at}: unknown block type")
    return out


def view_problems(view: Mapping[str, Any]) -> list[str]:
    """What Slack would refuse in a view (modal or home), as readable lines; empty when fine.
    Use it on views a test receives too, e.g. the ``view`` of a ``response_action: update`` ack."""
    out = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"view type {kind!r} is neither modal nor home"]
    if kind == "modal":
        for key in ("title", "submit", "close"):
            if key in view and len(_text_of(view[key])) > VIEW_TITLE_LIMIT:
                out.append(f"modal {key} longer than {VIEW_TITLE_LIMIT} characters: {_text_of(view[key])!r}")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and "submit" not in view:
            out.append("a modal with input blocks needs a submit button")
    if len(str(view.get("private_metadata", ""))) > PRIVATE_METADATA_LIMIT:
        out.append(f"private_metadata longer than {PRIVATE_METADATA_LIMIT}")
    if len(str(view.get("callback_id", ""))) > CALLBACK_ID_LIMIT:
        out.append(f"callback_id longer than {CALLBACK_ID_LIMIT}")
    return out + _block_problems(view.get("blocks", []), f"{kind} view")


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


def new_trigger_id() -> str:
    """A fresh trigger_id shaped like Slack's; pass it to a builder to find the views.open it led to."""
    return _trigger_id()


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


# ---------------------------------------------------------------------------- modals and shortcuts


def form_state(view: Mapping[str, Any], typed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``view.state.values`` as Slack sends it on submit: one entry per input block, keyed by
    block_id then action_id. ``typed`` maps a block_id to what the person typed (a str) or, for a
    static_select, the chosen option's value; untouched inputs keep their initial value (prefilled
    fields arrive without anyone typing) or come as ``None``."""
    typed = dict(typed or {})
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        block_id, action_id, kind = block["block_id"], element["action_id"], element.get("type")
        if kind == "static_select":
            if block_id in typed:
                wanted = typed.pop(block_id)
                chosen = next((o for o in element.get("options", []) if o["value"] == wanted), None)
                if wanted is not None and chosen is None:
                    raise ValueError(f"{block_id}: {wanted!r} is not one of the options")
            else:
                chosen = element.get("initial_option")
            values[block_id] = {action_id: {"type": kind, "selected_option": chosen}}
        else:
            value = typed.pop(block_id) if block_id in typed else element.get("initial_value")
            values[block_id] = {action_id: {"type": kind, "value": value if value != "" else None}}
    if typed:
        raise ValueError(f"no input block for {sorted(typed)} in the view")
    return values


def _submitted_view(view: Mapping[str, Any], state: Mapping[str, Any], team_id: str, api_app_id: str) -> dict:
    view_id = view.get("id") or "V" + uuid.uuid4().hex[:10].upper()
    return {
        "id": view_id,
        "team_id": team_id,
        "type": view.get("type", "modal"),
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": dict(state)},
        "hash": view.get("hash") or f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "title": view.get("title"),
        "clear_on_close": view.get("clear_on_close", False),
        "notify_on_close": view.get("notify_on_close", False),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": None,
        "root_view_id": view.get("root_view_id") or view_id,
        "app_id": api_app_id,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }


def view_submission_payload(
    view: Mapping[str, Any],
    user_id: str,
    typed: Mapping[str, Any] | None = None,
    team_id: str = TEAM_ID,
    *,
    user_name: str | None = None,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
) -> dict[str, Any]:
    """The ``view_submission`` payload of a modal the app opened (``view`` as views.open answered
    it, with its id), after the person typed ``typed`` (see :func:`form_state`) and pressed submit."""
    name = user_name or user_id.lower()
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or _trigger_id(),
        "view": _submitted_view(view, form_state(view, typed), team_id, api_app_id),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission_body(view: Mapping[str, Any], user_id: str, typed: Mapping[str, Any] | None = None,
                         team_id: str = TEAM_ID, **kwargs: Any) -> str:
    """Form-encoded ``payload=<json>`` body of a modal's submit (Content-Type:
    application/x-www-form-urlencoded). ``kwargs``: see :func:`view_submission_payload`."""
    return urlencode({"payload": json.dumps(view_submission_payload(view, user_id, typed, team_id, **kwargs))})


def view_action_body(
    view: Mapping[str, Any],
    action_id: str,
    value: str,
    user_id: str,
    team_id: str = TEAM_ID,
    *,
    block_id: str | None = None,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
) -> str:
    """Form-encoded ``block_actions`` body of a button clicked inside a modal: the container is
    the view, the whole view comes along, and there is no channel, message or response_url."""
    name = user_id.lower()
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": _submitted_view(view, form_state(view), team_id, api_app_id),
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id or "b-" + action_id,
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": _now_ts(),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def message_shortcut_payload(
    callback_id: str,
    user_id: str,
    channel_id: str,
    message: Mapping[str, Any],
    response_url: str,
    team_id: str = TEAM_ID,
    *,
    trigger_id: str | None = None,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> dict[str, Any]:
    """The ``message_action`` payload of a message shortcut (the "…" menu of a message).
    ``message`` is the message as Slack holds it, e.g. from :func:`shortcut_message`."""
    name = user_name or user_id.lower()
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": _now_ts(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "channel": {"id": channel_id, "name": channel_name or f"channel-{channel_id.lower()}"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or _trigger_id(),
        "message_ts": message["ts"],
        "message": dict(message),
        "response_url": response_url,
    }


def message_shortcut_body(callback_id: str, user_id: str, channel_id: str, message: Mapping[str, Any],
                          response_url: str, team_id: str = TEAM_ID, **kwargs: Any) -> str:
    """Form-encoded ``payload=<json>`` body of a message shortcut, as Slack POSTs it to the
    interactivity URL. ``kwargs``: see :func:`message_shortcut_payload`."""
    payload = message_shortcut_payload(callback_id, user_id, channel_id, message, response_url, team_id, **kwargs)
    return urlencode({"payload": json.dumps(payload)})


def shortcut_message(user: str | None, text: str, ts: str, thread_ts: str | None = None, **extra: Any) -> dict:
    """A message as it appears inside a shortcut payload: a message event without the event's
    channel fields (``extra`` as in :func:`message_event`, e.g. ``bot_id=BOT_ID``)."""
    msg = message_event("C0", user, text, ts, thread_ts=thread_ts, **extra)
    for key in ("channel", "event_ts", "channel_type"):
        msg.pop(key, None)
    return msg
