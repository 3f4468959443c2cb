"""`stats [7d|30d|90d]`: the figures in words and the week-by-week chart, to the asker only.

Each door shows the chart its own way (Slack uploads it to the asker's DM, Teams shows it in the card
by its address, the console writes a file); the core returns the PNG with the words."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers import stats_chart
from handlers.base import Actor, Reply, Usage
from handlers.context import Context
from handlers.stats import DEFAULT_WINDOW, WINDOWS, Report, compute
from handlers.stats_text import report_text, title

USAGE = "stats [7d|30d|90d]"
CLI_USAGE = "pitchin stats [7d|30d|90d] [--csv] [--chart FILE]"


def window_days(word: str | None, usage: str = USAGE) -> int:
    """7, 30 or 90 from "7d", "30d", "90d" (None: the default); a Usage for anything else."""
    key = (word or DEFAULT_WINDOW).lower()
    if key not in WINDOWS:
        raise Usage(f"“{word}” is not a window Pitchin knows: say 7d, 30d or 90d.", usage)
    return WINDOWS[key]


def report(ctx: Context, days: int, now: datetime | None = None) -> Report:
    now = now or ctx.now()
    with ctx.db.transaction(read_only=True) as session:
        return compute(session, now - timedelta(days=days), now, now)


def chart_name(r: Report) -> str:
    return f"pitchin-stats-{r.end:%Y-%m-%d}.png"


def chart(r: Report) -> bytes:
    return stats_chart.render(r.weeks, title(r))


def run(ctx: Context, actor: Actor, args: list[str]) -> Reply:
    if len(args) > 1:
        raise Usage("Give one window at most.", USAGE)
    r = report(ctx, window_days(args[0] if args else None))
    return Reply(report_text(r), image=(chart_name(r), chart(r)))
