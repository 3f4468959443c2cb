"""A fake Bot Connector service (where Teams' https://smba.trafficmanager.net/… would be), a real
aiohttp server on 127.0.0.1, plus builders of the activities Teams sends to a bot.

Usage::

    fake = FakeConnector()
    await fake.start()
    fake.set_member("29:ann", "Ann Example", "ann@acme.test")
    ... POST activities carrying serviceUrl=fake.url to the bot's /api/messages ...
    (root,) = await fake.wait_for("send", where=lambda c: c.is_root)
    await fake.stop()

It records what a bot asks of the connector, as :class:`Call`s of these kinds:

- ``create``: ``POST /v3/conversations`` (a new conversation; in a channel, a new thread)
- ``send``: ``POST /v3/conversations/{id}/activities`` (into a conversation; to a bare channel id it
  starts a new thread, to ``<channel>;messageid=<root>`` it answers in that thread)
- ``reply``: ``POST /v3/conversations/{id}/activities/{activityId}`` (reply to an activity)
- ``update``: ``PUT /v3/conversations/{id}/activities/{activityId}`` (edit a message in place)
- ``member``: ``GET /v3/conversations/{id}/members/{userId}`` (one member, with email)
- ``upload``: ``PUT /onedrive/{name}`` (not the connector: the OneDrive upload URL Teams hands a bot when
  a person allows a file in a personal chat; :meth:`FakeConnector.upload_info` makes one)

A personal conversation (``POST /v3/conversations`` with ``members`` and no channel) gets the
same id every time for the same person, as Teams gives back the existing 1:1 chat.

Every message it accepted is kept in :attr:`messages` (activity id → latest version), so a test can
read a card as people see it now.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from aiohttp import web

TENANT = "tenant-acme"
TEAM = "19:team-acme@thread.tacv2"
SUPPORT = "19:support-channel@thread.tacv2"
GENERAL = TEAM  # Teams: the General channel's id is the team's id
BOT_ID = "28:pitchin-bot"
BOT_NAME = "Pitchin"
THREAD_MARK = ";messageid="


@dataclass
class Call:
    kind: str  # "create", "send", "reply", "update", "member", "unknown"
    conversation_id: str
    activity_id: str | None  # the activity replied to / updated / created
    body: Any
    headers: dict
    status: int = 200
    response: Any = None

    @property
    def channel(self) -> str:
        return self.conversation_id.split(THREAD_MARK)[0]

    @property
    def thread(self) -> str | None:
        """The root activity id of the thread this went into (None: a new root)."""
        return self.conversation_id.split(THREAD_MARK)[1] if THREAD_MARK in self.conversation_id else None

    @property
    def is_root(self) -> bool:
        return self.kind in ("send", "create") and self.thread is None and self.ok

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def new_id(self) -> str | None:
        if not self.ok:
            return None
        return (self.response or {}).get("activityId") or (self.response or {}).get("id")

    @property
    def activity(self) -> dict:
        """The activity sent (for ``create``, the one that opens the conversation)."""
        body = self.body if isinstance(self.body, dict) else {}
        return body.get("activity") or {} if self.kind == "create" else body

    @property
    def card(self) -> dict | None:
        """The Adaptive Card this activity carries, if any."""
        for a in self.activity.get("attachments") or []:
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return a["content"]
        return None

    @property
    def text(self) -> str:
        """What people see: the message's text, or its card's text."""
        return self.activity.get("text") or card_text(self.card)

    def __repr__(self) -> str:
        return f"Call({self.kind!r}, {self.conversation_id!r}, {self.activity_id!r}, status={self.status})"


def card_text(card: dict | None) -> str:
    """Every piece of text in an Adaptive Card (TextBlocks, RichTextBlocks, facts, action titles), one per line."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                out.append(node.get("text", ""))
            elif node.get("type") == "RichTextBlock":
                out.append("".join(run.get("text", "") for run in node.get("inlines", [])))
            elif node.get("type") == "Fact" or ("title" in node and "value" in node and "type" not in node):
                out.append(f"{node['title']}: {node['value']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(out)


def card_actions(card: dict | None) -> list[dict]:
    """The data of every submit action on a card (inside Action.ShowCard confirmations too)."""
    found: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Action.Submit":
                found.append(node.get("data") or {})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk((card or {}).get("actions"))
    return found


def text_blocks(node) -> list[dict]:
    """Every TextBlock (read as markdown by Teams) and RichTextBlock (TextRuns, shown as written) in a
    card, confirmation cards included."""
    if isinstance(node, dict):
        own = [node] if node.get("type") in ("TextBlock", "RichTextBlock") else []
        return own + [b for value in node.values() for b in text_blocks(value)]
    if isinstance(node, list):
        return [b for value in node for b in text_blocks(value)]
    return []


class FakeConnector:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[str, dict] = {}  # activity id → the activity as last posted or updated
        self.members: dict[str, dict] = {}
        self._ids = itertools.count(1800000000001)
        self._failures: list[tuple[str, int, int]] = []  # (kind, times left, status)
        self._refusals: list[tuple[str, str | None, int, str]] = []  # (kind, channel or None, status, code)
        self._down = False
        self._waiters: set[asyncio.Event] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "FakeConnector":
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_put("/onedrive/{name}", self._upload)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """The serviceUrl incoming activities carry (Teams' end with a slash too)."""
        return f"http://127.0.0.1:{self.port}/"

    # ------------------------------------------------------------------ configuration
    def set_member(self, user_id: str, name: str, email: str, aad_object_id: str | None = None) -> None:
        self.members[user_id] = {
            "id": user_id, "name": name, "email": email, "userPrincipalName": email,
            "aadObjectId": aad_object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, user_id)),
            "givenName": name.split()[0], "surname": name.split()[-1], "tenantId": TENANT, "userRole": "user",
        }

    def fail(self, kind: str, times: int = 1, status: int = 503) -> None:
        """The next ``times`` requests of ``kind`` answer HTTP ``status``."""
        self._failures.append((kind, times, status))

    def refuse(self, kind: str, status: int, code: str, channel: str | None = None) -> None:
        """From now on, every request of ``kind`` ("*": of any kind) in ``channel`` (its threads
        included; None: anywhere) answers HTTP ``status`` with the Bot Framework's error ``code``:
        ``refuse("create", 403, "BotNotInConversationRoster", GENERAL)``,
        ``refuse("*", 404, "ConversationNotFound", SUPPORT)``."""
        self._refusals.append((kind, channel, status, code))

    def set_down(self, down: bool = True) -> None:
        self._down = down

    # ------------------------------------------------------------------ queries
    def calls_to(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 10,
                       where: Callable[[Call], bool] | None = None) -> list[Call]:
        """Wait until ``count`` accepted requests of ``kind`` (matching ``where``) arrived; return them all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        changed = asyncio.Event()
        self._waiters.add(changed)
        try:
            while True:
                matching = [c for c in self.calls_to(kind) if c.ok and (where is None or where(c))]
                if len(matching) >= count:
                    return matching
                if loop.time() >= deadline:
                    seen = "\n  ".join(repr(c) for c in self.calls) or "(none)"
                    raise AssertionError(f"timed out after {timeout}s waiting for {count} {kind!r} request(s); "
                                         f"got {len(matching)}. Requests seen:\n  {seen}")
                changed.clear()
                try:
                    await asyncio.wait_for(changed.wait(), timeout=min(deadline - loop.time(), 0.05))
                except asyncio.TimeoutError:
                    pass
        finally:
            self._waiters.discard(changed)

    def thread_of(self, root_id: str) -> list[Call]:
        """Everything posted into the thread under ``root_id``, in order."""
        return [c for c in self.calls if c.kind in ("send", "reply") and c.ok and c.thread == root_id]

    # ------------------------------------------------------------------ handlers
    def _record(self, call: Call) -> web.Response:
        failure = self._take_failure(call.kind)
        if self._down or failure is not None:
            call.status = 503 if self._down else failure
            call.response = {"error": {"code": "ServiceError", "message": "The connector is unavailable"}}
        else:
            refused = next(((status, code) for kind, channel, status, code in self._refusals
                            if kind in ("*", call.kind) and channel in (None, call.channel)), None)
            if refused is not None:
                call.status, call.response = refused[0], {"error": {"code": refused[1], "message": "refused"}}
        self.calls.append(call)
        for waiter in self._waiters:
            waiter.set()
        return web.json_response(call.response, status=call.status)

    def _take_failure(self, kind: str) -> int | None:
        for i, (k, times, status) in enumerate(self._failures):
            if k == kind and times > 0:
                self._failures[i] = (k, times - 1, status)
                return status
        return None

    def _keep(self, activity_id: str, conversation_id: str, body: dict) -> None:
        self.messages[activity_id] = {**body, "id": activity_id, "conversation": {"id": conversation_id},
                                      "timestamp": datetime.now(timezone.utc).isoformat()}

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        members = body.get("members") or []
        new_id = str(next(self._ids))
        if channel is None and not body.get("isGroup") and len(members) == 1:
            personal = personal_conversation(members[0]["id"])
            call = Call("create", personal, None, body, dict(request.headers), response={"id": personal})
            return self._record(call)
        channel = channel or f"a:{uuid.uuid4().hex}"
        call = Call("create", channel, None, body, dict(request.headers),
                    response={"id": f"{channel}{THREAD_MARK}{new_id}", "activityId": new_id, "serviceUrl": self.url})
        response = self._record(call)
        if body.get("activity") and call.ok:
            self._keep(new_id, channel, body["activity"])
        return response

    async def _send(self, request: web.Request, reply_to: str | None = None) -> web.Response:
        conversation = request.match_info["conversation"]
        body = await request.json()
        new_id = str(next(self._ids))
        call = Call("reply" if reply_to else "send", conversation, reply_to, body, dict(request.headers),
                    response={"id": new_id})
        response = self._record(call)
        if call.ok:
            self._keep(new_id, conversation, body)
        return response

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._send(request, reply_to=request.match_info["activity"])

    async def _update(self, request: web.Request) -> web.Response:
        conversation, activity = request.match_info["conversation"], request.match_info["activity"]
        body = await request.json()
        call = Call("update", conversation, activity, body, dict(request.headers), response={"id": activity})
        if activity not in self.messages:
            call.status, call.response = 404, {"error": {"code": "NotFound", "message": "no such activity"}}
        response = self._record(call)
        if call.ok:
            self._keep(activity, conversation, body)
        return response

    async def _member(self, request: web.Request) -> web.Response:
        member = request.match_info["member"]
        call = Call("member", request.match_info["conversation"], member, None, dict(request.headers))
        if member in self.members:
            call.response = self.members[member]
        else:
            call.status = 404
            call.response = {"error": {"code": "MemberNotFoundInConversation", "message": "not a member"}}
        return self._record(call)

    def upload_info(self, name: str) -> dict:
        """What Teams puts in a fileConsent/invoke "accept": where to PUT the file, and where it will be."""
        unique = str(uuid.uuid4()).upper()
        return {"contentUrl": f"https://acme-my.sharepoint.test/personal/ann/Documents/Teams Chat Files/{name}",
                "name": name, "uploadUrl": f"{self.url}onedrive/{name}?session={unique}", "uniqueId": unique,
                "fileType": name.rpartition(".")[2]}

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        call = Call("upload", request.match_info["name"], None, data, dict(request.headers), status=201,
                    response={"id": uuid.uuid4().hex, "name": request.match_info["name"], "size": len(data)})
        size = len(data)
        if request.headers.get("Content-Range") != f"bytes 0-{size - 1}/{size}":
            call.status, call.response = 400, {"error": {"code": "invalidRange", "message": "bad Content-Range"}}
        return self._record(call)

    async def _unknown(self, request: web.Request) -> web.Response:
        call = Call("unknown", request.path, None, await request.text(), dict(request.headers), status=404,
                    response={"error": {"code": "NotFound", "message": f"{request.method} {request.path}"}})
        self.calls.append(call)
        return web.json_response(call.response, status=404)


def personal_conversation(user_id: str) -> str:
    """The id of a person's 1:1 chat with the bot."""
    return f"a:1on1-{user_id}"


# ---------------------------------------------------------------------- activities Teams sends


class Activities:
    """Builds the JSON activities Teams POSTs to a bot, all carrying this connector's serviceUrl."""

    def __init__(self, connector: FakeConnector, tenant: str = TENANT, team: str = TEAM):
        self.connector = connector
        self.tenant = tenant
        self.team = team
        self._ids = itertools.count(1700000000001)

    def _base(self, type_: str, conversation_id: str, user: tuple[str, str] | None, **extra) -> dict:
        channel = conversation_id.split(THREAD_MARK)[0]
        activity = {
            "type": type_,
            "id": str(next(self._ids)),
            "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "serviceUrl": self.connector.url,
            "channelId": "msteams",
            "from": {"id": user[0], "name": user[1], "aadObjectId": str(uuid.uuid5(uuid.NAMESPACE_URL, user[0]))}
            if user else {"id": "29:someone", "name": ""},
            "conversation": {"id": conversation_id, "conversationType": "channel", "isGroup": True,
                             "tenantId": self.tenant},
            "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "channelData": {"teamsChannelId": channel, "teamsTeamId": self.team, "channel": {"id": channel},
                            "team": {"id": self.team}, "tenant": {"id": self.tenant}},
        }
        activity.update(extra)
        return activity

    def message(self, user: tuple[str, str], text: str, channel: str = SUPPORT, thread: str | None = None,
                mention: bool = False, activity_id: str | None = None) -> dict:
        """A person's message: a new post in ``channel`` (thread None) or a reply in a thread.
        ``mention`` puts ``<at>Pitchin</at>`` in front, as Teams does when the bot is @mentioned."""
        activity = self._base("message", channel, user, textFormat="plain", locale="en-US")
        if activity_id:
            activity["id"] = activity_id
        root = thread or activity["id"]
        activity["conversation"]["id"] = f"{channel}{THREAD_MARK}{root}"
        if thread:
            activity["replyToId"] = thread
        if mention:
            text = f"<at>{BOT_NAME}</at> {text}"
            activity["entities"] = [{"type": "mention", "text": f"<at>{BOT_NAME}</at>",
                                     "mentioned": {"id": BOT_ID, "name": BOT_NAME}}]
        activity["text"] = text
        return activity

    def submit(self, user: tuple[str, str], data: dict, card_id: str, channel: str = SUPPORT,
               thread: str | None = None) -> dict:
        """A click on an Adaptive Card's Action.Submit: a message with ``value`` and no text,
        replying to the card's activity."""
        activity = self._base("message", f"{channel}{THREAD_MARK}{thread or card_id}", user, value=data,
                              replyToId=card_id)
        return activity

    def personal(self, user: tuple[str, str], text: str) -> dict:
        """A message in the person's 1:1 chat with the bot (no @mention needed there)."""
        activity = self._base("message", personal_conversation(user[0]), user, textFormat="plain", text=text)
        activity["conversation"] = {"id": personal_conversation(user[0]), "conversationType": "personal",
                                    "tenantId": self.tenant}
        activity["channelData"] = {"tenant": {"id": self.tenant}}
        return activity

    def invoke(self, user: tuple[str, str], name: str, value: dict, channel: str = SUPPORT,
               thread: str | None = None, reply_to: str | None = None) -> dict:
        """An invoke activity (Teams waits for the bot's answer in the HTTP response)."""
        conversation = f"{channel}{THREAD_MARK}{thread}" if thread else channel
        activity = self._base("invoke", conversation, user, name=name, value=value, locale="en-US")
        if reply_to:
            activity["replyToId"] = reply_to
        return activity

    def task_fetch(self, user: tuple[str, str], data: dict, card_id: str, thread: str | None = None) -> dict:
        """A click on a card's Action.Submit marked ``"msteams": {"type": "task/fetch"}``: Teams asks
        the bot for the dialog to open (its data comes back whole, the "msteams" part included)."""
        return self.invoke(user, "task/fetch", {"type": "task/fetch", "data": data, "context": {"theme": "default"}},
                           thread=thread or card_id, reply_to=card_id)

    def task_submit(self, user: tuple[str, str], data: dict, inputs: dict | None = None, card_id: str | None = None,
                    thread: str | None = None) -> dict:
        """An Action.Submit inside a dialog: its data with the form's inputs merged in."""
        return self.invoke(user, "task/submit", {"type": "task/submit", "data": {**data, **(inputs or {})},
                                                 "context": {"theme": "default"}},
                           thread=thread or card_id, reply_to=card_id)

    def message_payload(self, message: dict, html: str | None = None) -> dict:
        """A message as a message action sees it (``value.messagePayload``): its body is HTML."""
        root = message["conversation"]["id"].partition(THREAD_MARK)[2]
        sender = message.get("from") or {}
        return {
            "id": message["id"], "replyToId": root if root != message["id"] else None,
            "createdDateTime": message.get("timestamp"), "messageType": "message", "importance": "normal",
            "locale": "en-us", "linkToMessage": f"https://teams.microsoft.com/l/message/{message['id']}",
            "from": {"user": {"id": sender.get("aadObjectId") or sender.get("id"), "displayName": sender.get("name"),
                              "userIdentityType": "aadUser"}},
            "body": {"contentType": "html",
                     "content": html if html is not None else f"<p>{message.get('text', '')}</p>"},
            "attachments": [], "mentions": [], "reactions": [],
        }

    def message_action(self, user: tuple[str, str], command_id: str, message: dict, data: dict | None = None,
                       html: str | None = None) -> dict:
        """A message action (… → More actions → "Log as feedback") on ``message``, one of this builder's
        messages: ``composeExtension/fetchTask`` to open the dialog, or with ``data`` the dialog's
        ``composeExtension/submitAction``. Its conversation is the message's reply chain."""
        value = {"commandId": command_id, "commandContext": "message", "context": {"theme": "default"},
                 "messagePayload": self.message_payload(message, html)}
        name = "composeExtension/fetchTask"
        if data is not None:
            name = "composeExtension/submitAction"
            value.update(data=data, botMessagePreviewAction=None, botActivityPreview=[])
        channel, _, root = message["conversation"]["id"].partition(THREAD_MARK)
        return self.invoke(user, name, value, channel=channel, thread=root or message["id"])

    def file_consent(self, user: tuple[str, str], card_id: str, action: str, context: dict,
                     upload_info: dict | None = None) -> dict:
        """The person's answer to a file consent card in their personal chat."""
        value = {"type": "fileUpload", "action": action, "context": context}
        if upload_info is not None:
            value["uploadInfo"] = upload_info
        activity = self.invoke(user, "fileConsent/invoke", value, reply_to=card_id)
        activity["conversation"] = {"id": personal_conversation(user[0]), "conversationType": "personal",
                                    "tenantId": self.tenant}
        activity["channelData"] = {"tenant": {"id": self.tenant}}
        return activity

    def bot_added(self) -> dict:
        """The conversationUpdate Teams sends to the team's General channel when the app is added."""
        activity = self._base("conversationUpdate", GENERAL, None, membersAdded=[{"id": BOT_ID}])
        activity["channelData"]["eventType"] = "teamMemberAdded"
        return activity

    def installed(self) -> dict:
        """The installationUpdate that comes with it."""
        activity = self._base("installationUpdate", GENERAL, None, action="add")
        return activity
