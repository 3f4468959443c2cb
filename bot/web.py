"""One aiohttp app: /slack/events, /api/messages (Teams), /intake/*, /healthz, /survey/*, /charts/*."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import uuid
from typing import Awaitable, Callable

from aiohttp import web

from bot.charts_web import add_routes as add_chart_routes
from bot.http_guard import LIMITS, ServerLimits
from bot.request_body import MAX_JSON_BYTES, parse_json
from bot.request_body import read_or_refuse as _body
from bot.survey_page import add_survey_routes
from handlers import tickets
from handlers.base import InboundMessage, utcnow
from handlers.context import Context

log = logging.getLogger("pitchin.web")

MAX_EMAIL_BYTES = 10 * 1024 * 1024
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

CTX = web.AppKey("ctx", Context)
TOKEN = web.AppKey("intake_token", str)
WEBHOOKS = web.AppKey("webhooks", object)  # the WebhookChannel that checks and later answers reply URLs
MAIL_READER = web.AppKey("mail_reader", object)  # bot.inbox.reader.MailReader: mail is read off the loop


def error(status: int, message: str, **headers) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _authorised(request: web.Request) -> web.Response | None:
    token = request.app[TOKEN]
    if not token:
        log.warning("refused %s: PITCHIN_INTAKE_TOKEN is not set, so intake is switched off", request.path)
        return error(503, "Intake is switched off: the server has no PITCHIN_INTAKE_TOKEN. "
                          "Set it, and send it as 'Authorization: Bearer <token>'.")
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer "):
        return error(401, "Missing token: send 'Authorization: Bearer <PITCHIN_INTAKE_TOKEN>'.",
                     **{"WWW-Authenticate": 'Bearer realm="pitchin-intake"'})
    if not hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return error(401, "Wrong token: it does not match PITCHIN_INTAKE_TOKEN.",
                     **{"WWW-Authenticate": 'Bearer realm="pitchin-intake", error="invalid_token"'})
    return None


def _accepted(result) -> web.Response:
    body = {"ticket_id": result.ticket_id, "message_id": result.message_id, "new_ticket": result.new_ticket}
    if result.ignored:
        body["ignored"] = result.ignored
    if result.folded:
        body["folded"] = True
    if result.reason:
        body["reason"] = result.reason
    return web.json_response(body, status=202)


async def intake_email(request: web.Request) -> web.Response:
    from bot.inbox.reader import MailReader, read_mail
    from bot.inbox.sender import MalformedEmail

    refused = _authorised(request)
    if refused:
        return refused
    body = await _body(request, MAX_EMAIL_BYTES)
    if isinstance(body, web.Response):
        return body
    if not body.strip():
        return error(400, "Empty body: POST the raw email (RFC 822) with Content-Type: message/rfc822.")
    ctx = request.app[CTX]
    reader = request.app.get(MAIL_READER)
    try:
        # reading a mail is CPU work for a worker process (a thread when the app has no reader)
        if isinstance(reader, MailReader):
            message = await reader.read(body, ctx.now())
        else:
            message = await asyncio.to_thread(read_mail, body, ctx.now())
    except MalformedEmail as exc:
        return error(400, f"Not a usable email: {exc}")
    return _accepted(await ctx.db.run(tickets.intake, ctx, message))


def web_message(data) -> InboundMessage:
    """Check a web-form message; ValueError says exactly what is wrong."""
    if not isinstance(data, dict):
        raise ValueError('The body must be a JSON object like {"email": "ann@example.com", "text": "Hello"}.')
    problems = []
    known = {"email", "name", "subject", "text", "external_id", "reply_url"}
    unknown = sorted(set(data) - known)
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(sorted(known))}")
    for field in known:
        if field in data and data[field] is not None and not isinstance(data[field], str):
            problems.append(f"'{field}' must be a string")
    email = (data.get("email") or "").strip().lower() if isinstance(data.get("email"), str) else ""
    if not email:
        problems.append("'email' is required: the customer's address")
    elif not EMAIL_RE.match(email):
        problems.append(f"'email' is “{email}”, not an email address")
    text = data.get("text") if isinstance(data.get("text"), str) else ""
    if not text.strip():
        problems.append("'text' is required: what the customer wrote")
    reply_url = data.get("reply_url") if isinstance(data.get("reply_url"), str) else None
    if reply_url and not re.match(r"^https?://", reply_url):
        problems.append("'reply_url' must be an http:// or https:// URL")
    if problems:
        raise ValueError("; ".join(problems) + ".")
    external_id = data.get("external_id") if isinstance(data.get("external_id"), str) and data["external_id"].strip() else None
    name = (data.get("name") or "").strip() if isinstance(data.get("name"), str) else ""
    subject = (data.get("subject") or "").strip() if isinstance(data.get("subject"), str) else ""
    return InboundMessage(
        source="web",
        external_key=f"web:{external_id or uuid.uuid4().hex}",
        sender_email=email,
        sender_name=name or email.split("@")[0],
        subject=subject or _subject_from(text),
        text=text.strip(),
        received_at=utcnow(),
        reply_url=reply_url or None,
    )


async def _reply_url_refused(webhooks, url: str) -> web.Response | None:
    """400 when the reply URL points where Pitchin does not post (its own network, plain http),
    503 when this server cannot answer web forms at all: a form that retries later then loses nothing."""
    from bot.inbox.addresses import Refused
    from bot.inbox.webhook import Unsigned

    if webhooks is None:
        return error(503, "This server cannot answer web forms: leave 'reply_url' out to have replies emailed.")
    try:
        await webhooks.screen(url)
    except Refused as exc:
        return error(400, exc.explain("'reply_url'") + ".")
    except Unsigned as exc:
        return error(503, str(exc))
    return None


def _subject_from(text: str) -> str:
    first = text.strip().splitlines()[0]
    return first if len(first) <= 80 else first[:79] + "…"


async def intake_messages(request: web.Request) -> web.Response:
    refused = _authorised(request)
    if refused:
        return refused
    body = await _body(request, MAX_JSON_BYTES)
    if isinstance(body, web.Response):
        return body
    try:
        data = parse_json(body)
    except ValueError as exc:
        return error(400, f"{exc}. Send a JSON object with at least 'email' and 'text'.")
    try:
        message = web_message(data)
    except ValueError as exc:
        return error(400, str(exc))
    if message.reply_url:
        refused = await _reply_url_refused(request.app[WEBHOOKS], message.reply_url)
        if refused:
            return refused
    result = await request.app[CTX].db.run(tickets.intake, request.app[CTX], message)
    return _accepted(result)


async def healthz(request: web.Request) -> web.Response:
    from storage import repos

    def check():
        with request.app[CTX].db.transaction() as session:
            return repos.pending_jobs(session)

    try:
        pending = await request.app[CTX].db.run(check)
    except Exception as exc:  # the health check reports, it does not crash
        return web.json_response({"ok": False, "database": f"unreachable: {type(exc).__name__}"}, status=503)
    return web.json_response({"ok": True, "outbox_pending": pending})


def make_web_app(ctx: Context, intake_token: str,
                 slack_handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
                 teams_handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
                 webhooks=None, limits: ServerLimits | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_EMAIL_BYTES + 1024 * 1024)
    app[CTX] = ctx
    app[LIMITS] = limits or ServerLimits()
    app[TOKEN] = intake_token
    app[WEBHOOKS] = webhooks
    app.router.add_post("/intake/email", intake_email)
    app.router.add_post("/intake/messages", intake_messages)
    app.router.add_get("/healthz", healthz)
    add_survey_routes(app, ctx)  # GET|POST /survey/{token}: the customer's satisfaction page
    add_chart_routes(app, ctx)  # GET /charts/<token>.png, for Teams cards' images
    if slack_handler is not None:
        app.router.add_post("/slack/events", slack_handler)
    if teams_handler is not None:
        app.router.add_post("/api/messages", teams_handler)
    return app
