"""Composition root: builds the database, the core's context, the platforms and the workers."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from aiohttp import web

from bot.config import ConfigError, Settings
from bot.delivery import DeliveryWorker
from bot.http_guard import GuardedServer, ServerLimits
from bot.llm import OpenAIEmbedder, make_llm_client
from bot.llm_drafter import OpenAIReplyDrafter
from bot.llm_writer import OpenAIIssueWriter
from bot.start_errors import explain_listen, open_database
from handlers.base import ChatPort, CustomerChannel
from handlers.context import Context
from handlers.local_model import ModelError, ModelFiles
from storage.db import current_revision

log = logging.getLogger("pitchin")


def customer_channel(settings: Settings) -> CustomerChannel:
    from bot.inbox.addresses import AllowList
    from bot.inbox.customer import CustomerRouter
    from bot.inbox.email import MaildirChannel, SmtpChannel
    from bot.inbox.webhook import WebhookChannel

    from_addr = settings.from_email or "support@pitchin.invalid"
    if settings.smtp_url:
        mail = SmtpChannel.from_url(settings.smtp_url, from_addr)
    else:
        mail = MaildirChannel(settings.maildir, from_addr)
    # replies are signed with a secret of their own, never the intake token: whoever checks the
    # signatures (often another service than the one that posts tickets) cannot post tickets with it
    return CustomerRouter(mail, WebhookChannel(settings.webhook_secret, AllowList.parse(settings.webhook_allow)))


def local_model(settings: Settings) -> ModelFiles | None:
    """The admin's own copy of the local model (PITCHIN_MODEL_DIR), read and checked now: a wrong
    PITCHIN_MODEL_SHA256 stops Pitchin at start. None: the bundled model."""
    if not settings.model_dir:
        return None
    try:
        return ModelFiles.in_folder(settings.model_dir, settings.model_sha256)
    except ModelError as exc:
        raise ConfigError(f"Pitchin cannot start:\n  - PITCHIN_MODEL_DIR: {exc}.") from exc


class Pitchin:
    """Everything one process runs. ``extra_chats`` lets the console join as a chat platform."""

    def __init__(self, settings: Settings, extra_chats: dict[str, ChatPort] | None = None,
                 customers: CustomerChannel | None = None, upgrade: bool = True):
        self.settings = settings
        self.db = open_database(settings.database_url)  # unreachable or unwritable: one line, exit code 2
        self.revision: str | None = None  # logged at start: alembic's own lines show with -v only
        if upgrade:
            self.db.upgrade()
            self.revision = current_revision(self.db.engine)
        self.chats: dict[str, ChatPort] = dict(extra_chats or {})
        self.ctx = Context(db=self.db, undo_seconds=settings.undo_seconds, mail_domain=settings.mail_domain,
                           escalate_minutes=settings.escalate_minutes, local_model=local_model(settings),
                           public_url=settings.public_url.rstrip("/"), surveys=settings.surveys,
                           survey_delay_hours=settings.survey_delay_hours, survey_days=settings.survey_days)
        self.llm = make_llm_client(settings)  # the one OpenAI client (None without OPENAI_API_KEY)
        if self.llm is not None:
            self.ctx.embedder = OpenAIEmbedder(self.llm, settings.openai_embedding_model)
            self.ctx.writer = OpenAIIssueWriter(self.llm, settings.openai_model)
            self.ctx.drafter = OpenAIReplyDrafter(self.llm, settings.openai_model)
        self.slack_app = None
        if settings.slack_enabled:
            from bot.slack import build_slack

            self.slack_app, self.chats["slack"] = build_slack(settings, self.ctx)
        self.teams_handler = None
        if settings.teams_enabled:
            from bot.teams import build_teams

            self.teams_handler, self.chats["teams"] = build_teams(settings, self.ctx)
        self.ctx.platforms = tuple(self.chats)
        self.customers = customers if customers is not None else customer_channel(settings)
        from bot.inbox.reader import MailReader

        # customer mail is read in worker processes (HTTP intake and IMAP alike), off the event loop
        self.mail_reader = MailReader()
        self.worker = DeliveryWorker(self.ctx, self.chats, self.customers)
        self.ctx.wake = self.worker.wake
        self._tasks: list[asyncio.Task] = []
        self._runner: web.AppRunner | None = None
        self._server: GuardedServer | None = None
        self.limits = ServerLimits()  # header and body deadlines, the connection cap (tests shorten them)
        self._socket_handler = None
        self.scheduler = None

    @property
    def port(self) -> int:
        """The port actually bound (PORT=0 picks a free one)."""
        return self._server.port

    @property
    def open_connections(self) -> int:
        return self._server.open_connections if self._server is not None else 0

    def web_app(self) -> web.Application:
        from bot.web import MAIL_READER, make_web_app

        slack = None
        if self.slack_app is not None and not self.settings.slack_socket_mode:
            from bot.slack.http import slack_http_handler

            slack = slack_http_handler(self.slack_app, self.settings.slack_signing_secret)
        app = make_web_app(self.ctx, self.settings.intake_token, slack_handler=slack, teams_handler=self.teams_handler,
                           webhooks=getattr(self.customers, "webhook_channel", None), limits=self.limits)
        app[MAIL_READER] = self.mail_reader
        return app

    async def start(self, *, http: bool = True, worker: bool = True, scheduler: bool = True,
                    heartbeat_seconds: float | None = None) -> None:
        if self.slack_app is not None:
            # one connection pool for every Web API call (the SDK otherwise opens a session per call)
            self._slack_http = aiohttp.ClientSession()
            self.slack_app.client.session = self._slack_http
        # the port first: a busy one is then the only line the admin sees (bot/start_errors.py), not
        # the last of a screenful of start-up notes
        if http:
            app = self.web_app()
            self._runner = web.AppRunner(app, access_log=None)
            self._server = GuardedServer(self._runner, self.limits)
            app.middlewares.append(self._server.middleware)
            await self._runner.setup()
            with explain_listen(self.settings.host, self.settings.port):
                await self._server.start(self.settings.host, self.settings.port)
        if self.revision is not None:
            log.info("Database %s at revision %s", self.db.engine.url.render_as_string(hide_password=True),
                     self.revision)
        if not self.chats:
            log.warning("No chat platform is configured (SLACK_BOT_TOKEN, MICROSOFT_APP_ID or PITCHIN_TEAMS): "
                        "tickets are stored but posted nowhere.")
        if http and self.settings.teams_enabled and not self.settings.teams_authenticated:
            log.warning("TEAMS IS UNAUTHENTICATED: MICROSOFT_APP_ID is empty, so /api/messages accepts activities "
                        "from anyone. Use this only on your own machine; set MICROSOFT_APP_ID and "
                        "MICROSOFT_APP_PASSWORD before exposing Pitchin.")
        if not self.settings.intake_token:
            log.warning("PITCHIN_INTAKE_TOKEN is not set: /intake/* refuses every request.")
        if http and self.settings.intake_token and not self.settings.webhook_secret:
            log.info("PITCHIN_WEBHOOK_SECRET is not set: web-form messages with a reply_url are refused (503); "
                     "set it to answer web forms at their reply_url.")
        if not self.settings.smtp_url:
            log.warning("SMTP_URL is not set: replies to customers are written to the Maildir %s", self.settings.maildir)
        if self.ctx.embedder is not None:
            log.info("Similar suggestions: OpenAI embeddings (%s at %s); the local model if they fail",
                     self.ctx.embedder.name, self.llm.base_url)
        else:
            log.info("Similar suggestions: the local model (all-MiniLM-L6-v2, offline); "
                     "set OPENAI_API_KEY for OpenAI's")
        if self.ctx.writer is not None:
            log.info("Briefing labels: AI-written by %s at %s from customers' quotes (marked \"AI-written\"); "
                     "each issue's most central message if it fails", self.ctx.writer.model, self.llm.base_url)
        else:
            log.info("Briefing labels: each issue's most central message, shortened; "
                     "set OPENAI_API_KEY for AI-written labels and summaries")
        if self.ctx.drafter is not None:
            log.info("AI drafts and summaries: on, by %s at %s (a person checks and sends every draft)",
                     self.ctx.drafter.model, self.llm.base_url)
        else:
            log.info("AI drafts and summaries: off; set OPENAI_API_KEY to offer them on ticket cards")
        if http:
            log.info("listening on http://%s:%s (at most %d connections at once)", self.settings.host,
                     self.port, self._server.max_connections)
        if worker:
            self._tasks.append(asyncio.create_task(self.worker.run(), name="delivery"))
        if http:
            # the first mail must not wait, on the event loop, for the mail reader's processes to start
            self._tasks.append(asyncio.create_task(asyncio.to_thread(self.mail_reader.warm), name="warm-mail-reader"))
            # build the suggestion index now, so the first /feedback does not wait for it
            self._tasks.append(asyncio.create_task(asyncio.to_thread(self._warm_suggestions), name="warm-index"))
        if self.slack_app is not None and self.settings.slack_socket_mode:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            self._socket_handler = AsyncSocketModeHandler(self.slack_app, self.settings.slack_app_token)
            await self._socket_handler.connect_async()
            log.info("Slack connected over Socket Mode")
        if scheduler:
            from bot.scheduler import start_scheduler

            self.scheduler = await start_scheduler(self, heartbeat_seconds)

    def _warm_suggestions(self) -> None:
        try:
            started = time.monotonic()
            suggestions = self.ctx.suggestions
            # every missing vector computed and stored a batch at a time (minutes on the first start
            # after an upgrade): /feedback answers meanwhile from what is indexed so far
            computed = suggestions.fill(self.db)
            with self.db.transaction(read_only=True) as session:
                index = suggestions.sync(session)
            saved = computed + suggestions.save(self.db)
            if hasattr(index.embedder, "load"):  # the local model: ready before the first /feedback
                index.embedder.load()
            log.info("Suggestion index ready: %d cards, %d requests (%d embedded now and stored) in %.1f s",
                     len(index), index.request_count(), saved, time.monotonic() - started)
        except Exception:  # a cold index is built on first use instead; nothing is lost
            log.warning("could not prepare the suggestion index at start", exc_info=True)

    async def stop(self) -> None:
        self.worker.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self._socket_handler is not None:
            await self._socket_handler.close_async()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self._server is not None:
            await self._server.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        close = getattr(self.customers, "close", None)
        if close is not None:
            await close()
        if getattr(self, "_slack_http", None) is not None:
            await self._slack_http.close()
        if self.llm is not None:
            self.llm.close()
        self.mail_reader.close()
        self.db.dispose()
