"""GET /charts/<token>.png: a stats chart for a Teams card's Image (handlers/charts.py)."""

from __future__ import annotations

from aiohttp import web

from handlers import charts
from handlers.context import Context

ROUTE = "/charts/{token}.png"


def add_routes(app: web.Application, ctx: Context) -> None:
    async def chart(request: web.Request) -> web.Response:
        png = await ctx.db.run(charts.chart_png, ctx, request.match_info["token"])
        if png is None:
            return web.Response(status=404, text="No such chart: its link is wrong, or older than "
                                                 f"{charts.KEEP_DAYS} days. Ask for `stats` again.")
        # private: the figures are the asker's; a shared cache must not keep them
        return web.Response(body=png, content_type="image/png",
                            headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})

    app.router.add_get(ROUTE, chart)
