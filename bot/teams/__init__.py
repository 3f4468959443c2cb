"""Microsoft Teams: botbuilder's CloudAdapter, Pitchin's ActivityHandler, and TeamsChat for outgoing posts.

botbuilder (the Python Bot Framework SDK) is archived: every import of it lives under bot/teams/.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from aiohttp import web

from bot.config import Settings
from bot.teams.adapter import http_handler, make_adapter
from bot.teams.bot import PitchinBot
from bot.teams.chat import TeamsChat
from bot.teams.inbound import People
from bot.teams.tenant import TenantGate
from handlers.context import Context

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_teams(settings: Settings, ctx: Context) -> tuple[Handler, TeamsChat]:
    # botbuilder's own models warn about every field Teams sends that they do not know (teamsChannelId …)
    logging.getLogger("msrest.serialization").setLevel(logging.ERROR)
    adapter = make_adapter(settings)
    chat = TeamsChat(adapter, settings.microsoft_app_id, ctx)
    bot = PitchinBot(ctx, chat, People())
    return http_handler(adapter, bot, TenantGate(ctx, settings.microsoft_app_tenant_id)), chat
