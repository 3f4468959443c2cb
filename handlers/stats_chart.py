"""The week-by-week stats chart, as PNG bytes: bars for tickets in and closed, lines for % Great
and NPS on a second axis.

matplotlib is imported inside ``render`` (it takes a moment to load; `import handlers` stays
quick), and only its object API is used (a Figure with an Agg canvas of its own, never pyplot's
global figures), so two charts drawn at once in two threads do not meet. The same weeks give the
same bytes: no timestamp or version is written into the file.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from handlers.stats import Week

WIDTH_PX = 1000  # Slack's and Teams' previews show about this much; text stays readable there
HEIGHT_PX = 500
DPI = 100
IN_COLOUR = "#4C78A8"
CLOSED_COLOUR = "#9ECAE9"
GREAT_COLOUR = "#F58518"
NPS_COLOUR = "#54A24B"
GRID_COLOUR = "#E6E6E6"
TEXT_COLOUR = "#333333"


def week_label(week: Week) -> str:
    return f"{week.monday.day} {week.monday:%b}"


def _right_floor(weeks: Sequence[Week]) -> int:
    """The right axis goes down to 0, or to the lowest NPS (in steps of 20) when one is negative."""
    lowest = min((w.nps for w in weeks if w.nps is not None), default=0)
    return min(0, 20 * math.floor(lowest / 20))


def render(weeks: Sequence[Week], title: str, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX,
           dpi: int = DPI) -> bytes:
    """The chart of ``weeks`` (oldest first) under ``title``, a PNG of width_px × height_px."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(figure)
    bars = figure.add_subplot(1, 1, 1)
    lines = bars.twinx()

    positions = list(range(len(weeks)))
    width = 0.38
    bars.bar([p - width / 2 for p in positions], [w.tickets_in for w in weeks], width, color=IN_COLOUR,
             label="Tickets in", zorder=2)
    bars.bar([p + width / 2 for p in positions], [w.tickets_closed for w in weeks], width, color=CLOSED_COLOUR,
             label="Tickets closed", zorder=2)
    top = max([w.tickets_in for w in weeks] + [w.tickets_closed for w in weeks] + [1])
    bars.set_ylim(0, top * 1.15)
    bars.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    bars.set_ylabel("Tickets per week", color=TEXT_COLOUR, fontsize=11)
    bars.set_xticks(positions)
    bars.set_xticklabels([week_label(w) for w in weeks], fontsize=10, color=TEXT_COLOUR)
    bars.set_xlabel("Week starting (Monday, UTC)", color=TEXT_COLOUR, fontsize=10)
    bars.set_xlim(-0.6, len(weeks) - 0.4)
    bars.grid(axis="y", color=GRID_COLOUR, zorder=0)
    bars.set_axisbelow(True)

    def series(values: list[int | None]) -> list[float]:
        return [math.nan if v is None else float(v) for v in values]  # a week without answers: a gap

    great = series([w.great_percent for w in weeks])
    nps = series([w.nps for w in weeks])
    # clip_on off: a point on the axis (NPS 0, 100 % Great) is drawn whole
    lines.plot(positions, great, color=GREAT_COLOUR, marker="o", linewidth=2.5, markersize=7, label="% Great",
               clip_on=False, zorder=4)
    lines.plot(positions, nps, color=NPS_COLOUR, marker="s", linewidth=2, markersize=6, linestyle="--",
               label="NPS", clip_on=False, zorder=3)
    floor = _right_floor(weeks)
    lines.set_ylim(floor, 110)
    lines.set_yticks(list(range(floor, 101, 20)))
    if floor < 0:
        lines.axhline(0, color=NPS_COLOUR, linewidth=1, linestyle=":", alpha=0.7, zorder=1)  # NPS 0
    lines.set_ylabel("% Great · NPS", color=TEXT_COLOUR, fontsize=11)
    if len(weeks) <= 16:  # the values themselves, while there is room for them
        for p, value in zip(positions, great):
            if not math.isnan(value):
                lines.annotate(f"{value:.0f}%", (p, value), textcoords="offset points", xytext=(0, 8),
                               ha="center", fontsize=9, color=GREAT_COLOUR, fontweight="bold",
                               bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                                     "alpha": 0.85})

    for axis in (bars, lines):
        axis.tick_params(colors=TEXT_COLOUR, labelsize=10)
        for side in ("top",):
            axis.spines[side].set_visible(False)
    handles = bars.get_legend_handles_labels()[0] + lines.get_legend_handles_labels()[0]
    labels = bars.get_legend_handles_labels()[1] + lines.get_legend_handles_labels()[1]
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.925), ncol=4, frameon=False,
                  fontsize=10)
    figure.suptitle(title, fontsize=14, fontweight="bold", color=TEXT_COLOUR, y=0.975)
    figure.subplots_adjust(left=0.07, right=0.93, top=0.82, bottom=0.13)

    out = io.BytesIO()
    # no "Software" (matplotlib's version) or time in the file: the same weeks, the same bytes
    figure.savefig(out, format="png", dpi=dpi, metadata={"Software": None})
    return out.getvalue()
