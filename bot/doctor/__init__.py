"""`pitchin doctor`: every area of the configuration checked at once, one line per check.

Each area is a module of this package with ``async def checks(settings, send_to=None) -> list[Check]``
(see result.py for what a Check says). Areas are imported by name, so a missing or broken module is
one ✗ line naming it rather than a traceback, and they run concurrently: the slowest answer (a
Slack or mail server that does not reply) bounds the wait, not the sum of them.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Sequence

from bot.doctor.result import Check

# the modules under bot/doctor/, in the order their lines are printed
AREAS = ("database", "slack", "teams", "mail", "intake", "public_url", "model")

# one area may try a few things in turn (Slack: four calls); each of those has its own shorter limit,
# this one only stops an area that hangs in a way nobody foresaw
AREA_TIMEOUT = 20.0


async def run(settings, send_to: str | None = None, areas: Sequence[str] = AREAS,
              timeout: float = AREA_TIMEOUT) -> list[Check]:
    """Every area's checks, in the order of ``areas``; never raises."""
    results = await asyncio.gather(*(_area(name, settings, send_to, timeout) for name in areas))
    return [check for checks in results for check in checks]


async def _area(name: str, settings, send_to: str | None, timeout: float) -> list[Check]:
    title = name.replace("_", " ").capitalize()
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except Exception as exc:  # a missing or broken area is reported, the others still run
        return [Check(title, "checks", False, f"bot/doctor/{name}.py cannot be loaded ({type(exc).__name__}: {exc})",
                      "reinstall Pitchin (pip install --force-reinstall pitchin) or report this as a bug")]
    try:
        return list(await asyncio.wait_for(module.checks(settings, send_to=send_to), timeout))
    except asyncio.TimeoutError:
        return [Check(title, "checks", False, f"no answer within {timeout:g} s",
                      "run `pitchin doctor -v` to see where it waits")]
    except Exception as exc:  # an area must not raise; if one does, its line says so and the rest still print
        return [Check(title, "checks", False, f"failed with {type(exc).__name__}: {exc}",
                      "report this as a bug, with the output of `pitchin doctor -v`")]


def render(checks: Sequence[Check]) -> str:
    """One line per check (and the advice under each ✗), then a summary line."""
    lines = [check.line() for check in checks]
    failed = [c for c in checks if not c.ok and not c.skipped]
    needed = [c for c in failed if c.needed]
    if not failed:
        lines.append("All checks passed.")
    elif not needed:
        lines.append(f"{len(failed)} optional check{'s' if len(failed) > 1 else ''} failed; "
                     "everything needed is right.")
    else:
        lines.append(f"{len(needed)} check{'s' if len(needed) > 1 else ''} to fix.")
    return "\n".join(lines)


def exit_code(checks: Sequence[Check]) -> int:
    """0 when every needed check is ✓ (skipped ones do not count), 1 otherwise."""
    return 0 if all(c.ok or c.skipped or not c.needed for c in checks) else 1
