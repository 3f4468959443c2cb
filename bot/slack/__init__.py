"""Slack: a Bolt AsyncApp (HTTP or Socket Mode) with the ticket and feedback listeners, and SlackChat
for outgoing posts."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack.chat import SlackChat
from bot.slack.inbound import People
from bot.slack.listeners import register
from handlers.context import Context


def build_slack(settings: Settings, ctx: Context) -> tuple[AsyncApp, SlackChat]:
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        request_verification_enabled=not settings.slack_socket_mode,
    )
    register(app, ctx, People(client))
    return app, SlackChat(client, settings.support_channel)
