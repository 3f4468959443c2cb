"""Imports point one way: bot → handlers → storage. The core imports no platform SDK."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_MODULES = {"slack_bolt", "slack_sdk", "botbuilder", "botframework", "openai", "aiosmtpd", "aiosmtplib",
                    "smtplib", "imaplib", "aiohttp", "bot", "html2text", "msrest", "microsoft_agents"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def offenders(folder: str, forbidden: set[str]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        bad = imported_roots(path) & forbidden
        if bad:
            found.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    return found


def test_handlers_import_no_platform_and_nothing_from_bot():
    assert offenders("handlers", PLATFORM_MODULES) == []


def test_storage_imports_no_platform_and_nothing_from_bot():
    assert offenders("storage", PLATFORM_MODULES) == []


def test_storage_imports_nothing_from_the_core():
    """Storage sits below the core: the types both share live in storage/types.py."""
    assert offenders("storage", {"handlers", "bot"}) == []


def test_storage_types_import_nothing_of_ours():
    # the shared types are the bottom of the stack: not even the rest of storage
    assert imported_roots(ROOT / "storage" / "types.py") & {"storage", "handlers", "bot"} == set()


def test_botbuilder_only_under_bot_teams():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        # the SDK is archived: it stays behind bot/teams/ (tests may drive it, e.g. its TestAdapter)
        if rel.parts[0] in (".venv", "build", "tests") or rel.parts[:2] == ("bot", "teams"):
            continue
        if imported_roots(path) & {"botbuilder", "botframework"}:
            found.append(str(rel))
    assert found == []


def test_the_check_itself_catches_a_platform_import(tmp_path):
    sample = tmp_path / "leaky.py"
    sample.write_text("import os\nfrom slack_sdk.web import WebClient\nfrom . import sibling\n")
    assert imported_roots(sample) == {"os", "slack_sdk"}


def test_handlers_have_no_platform_branches():
    """Platform differences live in adapters and renderers, never `if platform == "slack"` in the core."""
    found = []
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if any(f'== "{p}"' in line or f"== '{p}'" in line for p in ("slack", "teams", "console")):
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert found == []
