"""GET and POST /survey/{token}: the page a customer's survey link opens, and its form.

A link's ``?rating=`` is recorded as the page opens (one click in the email is the answer). The
form is protected against posting from another site twice over: it carries a key only this server
can make (an HMAC of the survey's token hash under a secret kept in the database), and a POST whose
Origin, or else Referer, names another host is refused. The token rides in the URL, so pages are
never cached and never send a Referer anywhere. A link that is forged, malformed or expired gets a
friendly page, never a stack trace.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from bot import survey_html
from bot.request_body import Refused, read_body
from handlers import survey_answers, surveys
from handlers.context import Context

log = logging.getLogger("pitchin.web")

MAX_FORM_BYTES = 16 * 1024  # a comment of 2,000 characters, percent-encoded, fits several times over
MAX_FORM_FIELDS = 20
# what surveys.new_token makes (43 URL-safe characters), with room to spare; anything else is no link of ours
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")

HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


class FormSecret:
    """The secret that signs survey forms, read from the database once per process."""

    def __init__(self) -> None:
        self.value: bytes | None = None

    async def get(self, ctx: Context) -> bytes:
        if self.value is None:
            self.value = await ctx.db.run(survey_answers.form_secret, ctx)
        return self.value


CTX = web.AppKey("survey_ctx", Context)
SECRET = web.AppKey("survey_form_secret", FormSecret)


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


def not_found() -> web.Response:
    return html(survey_html.NOT_FOUND, status=404)


def refused(reason: str) -> web.Response:
    return html(survey_html.message_page(
        "Your answers could not be sent from here", reason,
        "Please open the survey link in our email again and send your answers from that page."), status=403)


def form_key(secret: bytes, token: str) -> str:
    """The key the page's form carries: only a server holding the secret can make it."""
    return hmac.new(secret, surveys.token_hash(token).encode("ascii"), hashlib.sha256).hexdigest()


def foreign_host(request: web.Request, public_url: str) -> str | None:
    """The other host a POST says it comes from (its Origin, or else its Referer), or None when it
    comes from this server or does not say. A page sent with Referrer-Policy: no-referrer posts
    with ``Origin: null``: that names no host, and the form's key decides alone."""
    origin = request.headers.get("Origin")
    source = origin if origin and origin != "null" else request.headers.get("Referer")
    if not source:
        return None
    try:
        host = urlsplit(source).netloc.lower()
    except ValueError:
        return source
    ours = {request.host.lower()}
    if public_url:
        ours.add(urlsplit(public_url).netloc.lower())
    return None if host in ours else (host or source)


async def show(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not TOKEN_RE.match(token):
        return not_found()
    ctx = request.app[CTX]
    page = await ctx.db.run(survey_answers.open_page, ctx, token, request.query.get("rating"),
                            request.query.get("again") == "1")
    if not page.found:
        return not_found()
    key = form_key(await request.app[SECRET].get(ctx), token)
    return html(survey_html.survey_page(page, token, key))


async def answer(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not TOKEN_RE.match(token):
        return not_found()
    ctx = request.app[CTX]
    elsewhere = foreign_host(request, ctx.public_url)
    if elsewhere is not None:
        log.info("refused a survey form posted from %s", elsewhere[:100])
        return refused("This form can only be sent from our survey page, not from another website.")
    try:
        body = await read_body(request, MAX_FORM_BYTES)
    except Refused as exc:
        if exc.status == 413:
            return html(survey_html.message_page(
                "Your answers are too long", f"Your answers are over {MAX_FORM_BYTES // 1024} KB, more than this "
                "page takes. Please go back, shorten your comment and send it again."), status=413)
        return html(survey_html.message_page("Your answers did not arrive", exc.reason,
                                             "Please go back and send them again."), status=exc.status)
    try:
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace",
                           max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        return html(survey_html.message_page("Your answers were not understood",
                                             "Please go back and send them from the survey page again."), status=400)
    form: dict[str, str] = {}
    for name, value in fields:
        form.setdefault(name, value)
    key = form_key(await request.app[SECRET].get(ctx), token)
    if not hmac.compare_digest(form.pop("key", "").encode("utf-8", "replace"), key.encode("ascii")):
        log.info("refused a survey form without its key")
        return refused("The form's security key is missing or wrong, so it may not have come from our page.")
    page = await ctx.db.run(survey_answers.submit, ctx, token, form)
    if not page.found:
        return not_found()
    if page.errors:
        return html(survey_html.survey_page(page, token, key), status=400)
    return html(survey_html.thank_you(page, token))


def add_survey_routes(app: web.Application, ctx: Context) -> None:
    """GET (no HEAD: a link checker's HEAD must not answer the survey) and POST /survey/{token}."""
    app[CTX] = ctx
    app[SECRET] = FormSecret()
    app.router.add_get("/survey/{token}", show, allow_head=False)
    app.router.add_post("/survey/{token}", answer)
