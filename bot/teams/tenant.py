"""Which Microsoft 365 organisation (tenant) this Pitchin serves.

A multi-tenant app registration lets any organisation talk to the bot; Pitchin serves one. With
MICROSOFT_APP_TENANT_ID set, that tenant; otherwise the tenant whose channel was chosen with
`@Pitchin tickets here` (it is in the stored conversation reference of the ticket channel). Before
anyone has chosen, every tenant may talk, so that someone can say `tickets here`.
"""

from __future__ import annotations

from botbuilder.schema import ConversationReference

from bot.teams.inbound import PLATFORM
from handlers import channels
from handlers.context import Context


class TenantGate:
    def __init__(self, ctx: Context, configured: str = ""):
        self.ctx = ctx
        # once bound, bound for good: only the bound tenant can choose the ticket channel again
        self.serving: str | None = configured or None

    async def allows(self, tenant: str) -> bool:
        serving = await self.tenant()
        return serving is None or tenant == serving

    async def tenant(self) -> str | None:
        """The tenant served: the configured one, else the ticket channel's; None while any may talk."""
        return self.serving or await self._bound()

    async def _bound(self) -> str | None:
        place = await self.ctx.run(channels.ticket_channel, self.ctx, PLATFORM)
        if place is not None:
            conversation = ConversationReference().deserialize(place).conversation
            self.serving = (conversation.tenant_id if conversation is not None else None) or None
        return self.serving
