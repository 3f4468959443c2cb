"""The week-by-week chart drawn from a known history: a real PNG of the size asked for, with a lot
drawn in it, the same bytes for the same weeks, and safe to draw in several threads at once."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from handlers.stats import Week
from handlers.stats_chart import render
from tests.png_facts import colours, size

# thirteen weeks: busy and quiet ones, one without any survey answer, NPS below zero once
HISTORY = [(31, 27, 78, 30), (36, 33, 81, 35), (29, 30, None, None), (42, 35, 76, -12), (38, 41, 83, 40),
           (33, 34, 85, 44), (45, 39, 79, 31), (40, 42, 84, 47), (35, 37, 88, 52), (37, 36, 86, 50),
           (30, 33, 90, 58), (34, 32, 87, 55), (28, 30, 91, 62)]
WEEKS = [Week(date(2026, 9, 7) + timedelta(weeks=n), *figures) for n, figures in enumerate(HISTORY)]
TITLE = "Support stats, last 90 days (1 Sep – 29 Nov 2026)"


def test_the_chart_is_a_png_of_the_configured_size_with_much_drawn_in_it():
    png = render(WEEKS, TITLE)
    assert size(png) == (1000, 500)
    assert len(png) > 20_000
    assert colours(png) > 200  # bars, lines, text with anti-aliasing: not a blank canvas
    small = render(WEEKS, TITLE, width_px=640, height_px=320, dpi=80)
    assert size(small) == (640, 320)


def test_the_same_weeks_give_the_same_bytes_and_other_weeks_other_bytes():
    assert render(WEEKS, TITLE) == render(WEEKS, TITLE)
    assert render(WEEKS[:-1], TITLE) != render(WEEKS, TITLE)


def test_weeks_without_any_figure_still_draw_a_chart():
    empty = [Week(date(2026, 11, 2) + timedelta(weeks=n), 0, 0, None, None) for n in range(2)]
    png = render(empty, "Support stats, last 7 days (23 Nov – 29 Nov 2026)")
    assert size(png) == (1000, 500) and colours(png) > 20


def test_charts_drawn_at_once_in_several_threads_do_not_mix():
    alone = {n: render(WEEKS[n:], TITLE) for n in range(4)}
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda n: (n, render(WEEKS[n:], TITLE)), list(range(4)) * 3))
    assert all(png == alone[n] for n, png in together)


def test_importing_the_core_does_not_load_matplotlib():
    code = "import sys, handlers.registry, handlers.stats_chart; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
