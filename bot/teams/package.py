"""`pitchin teams-package`: the Teams app package (a zip of manifest.json and two icons) to upload
in Teams → Apps → Manage your apps → Upload an app.

The manifest comes from appPackage/manifest.json with the bot's Microsoft app id filled in. The
icons are drawn here with the standard library (zlib + struct), so the package needs no image files
or libraries: a 192×192 colour icon and a 32×32 outline icon (white on transparent, as Teams asks).
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

TEMPLATE = Path(__file__).resolve().parent / "appPackage" / "manifest.json"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PLACEHOLDER_SITE = "https://pitchin.example.com"
ACCENT = (0x2E, 0x7D, 0x32)  # the manifest's accentColor
WHITE = (255, 255, 255)


class PackageError(Exception):
    """The package cannot be built; the message says what to set."""


# ---------------------------------------------------------------- icons


def png(width: int, height: int, pixel) -> bytes:
    """A PNG (8-bit RGBA) with ``pixel(x, y) -> (r, g, b, a)``."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _in_rounded(x: float, y: float, left: float, top: float, right: float, bottom: float, radius: float) -> bool:
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def _bubble(x: float, y: float, size: float, inset: float = 0.0) -> bool:
    """A speech bubble with a tail at the bottom left, in a square of ``size``."""
    s = size
    body = _in_rounded(x, y, 0.16 * s + inset, 0.2 * s + inset, 0.84 * s - inset, 0.66 * s - inset, 0.1 * s)
    tail_top, tail_bottom = 0.66 * s - inset, 0.82 * s - 2 * inset
    tail = tail_top <= y <= tail_bottom and 0.28 * s + inset <= x <= 0.28 * s + inset + (tail_bottom - y) * 0.9
    return body or tail


def color_icon(size: int = 192) -> bytes:
    def pixel(x: int, y: int):
        return (*WHITE, 255) if _bubble(x + 0.5, y + 0.5, size) else (*ACCENT, 255)

    return png(size, size, pixel)


def outline_icon(size: int = 32) -> bytes:
    def pixel(x: int, y: int):
        cx, cy = x + 0.5, y + 0.5
        ring = _bubble(cx, cy, size) and not _bubble(cx, cy, size, inset=2.0)
        return (*WHITE, 255) if ring else (0, 0, 0, 0)

    return png(size, size, pixel)


# ---------------------------------------------------------------- manifest and zip


def _version() -> str:
    try:
        return metadata.version("pitchin")
    except metadata.PackageNotFoundError:
        return "0.2.0"


def manifest(app_id: str, public_url: str = "") -> dict:
    if not app_id:
        raise PackageError("MICROSOFT_APP_ID is not set: a Teams app package names the bot by its Microsoft app id "
                           "(Azure portal → your Azure Bot → Configuration → Microsoft App ID).")
    if not GUID.match(app_id):
        raise PackageError(f"MICROSOFT_APP_ID is “{app_id}”, not a Microsoft app id "
                           "(a GUID like 8e4c2a9e-0a4f-4f5e-9d61-3c2b7f0e1a11).")
    site = public_url.rstrip("/") if urlparse(public_url).scheme == "https" else PLACEHOLDER_SITE
    values = {"{{MICROSOFT_APP_ID}}": app_id, "{{VERSION}}": _version(), "{{PUBLIC_URL}}": site}

    def fill(node):
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str):
            for placeholder, value in values.items():
                node = node.replace(placeholder, value)
        return node

    filled = fill(json.loads(TEMPLATE.read_text(encoding="utf-8")))
    if site != PLACEHOLDER_SITE:
        filled["validDomains"] = [urlparse(site).netloc]
    check(filled)
    return filled


# what Teams' manifest schema allows (v1.17); an upload that breaks one is refused with a vague error
LIMITS = (("name", "short", 30), ("name", "full", 100), ("description", "short", 80), ("description", "full", 4000))
COMMAND_TITLE, COMMAND_DESCRIPTION, COMMAND_ID = 32, 128, 64


def check(content: dict) -> None:
    """Refuse a manifest Teams would refuse, naming the field (the template is edited by hand)."""
    problems = [f"{a}.{b} is longer than {n} characters" for a, b, n in LIMITS if len(content[a][b]) > n]
    for bot in content.get("bots", []):
        for group in bot.get("commandLists", []):
            for command in group["commands"]:
                if len(command["title"]) > COMMAND_TITLE or len(command["description"]) > COMMAND_DESCRIPTION:
                    problems.append(f"the bot command “{command['title']}” has a title over {COMMAND_TITLE} or a "
                                    f"description over {COMMAND_DESCRIPTION} characters")
    for extension in content.get("composeExtensions", []):
        if extension.get("botId") != content["id"]:
            problems.append("a composeExtension's botId is not the bot's id")
        for command in extension.get("commands", []):
            if len(command["id"]) > COMMAND_ID or len(command["title"]) > COMMAND_TITLE \
                    or len(command.get("description", "")) > COMMAND_DESCRIPTION:
                problems.append(f"the message extension command “{command['id']}” has a field over Teams' limits")
            if command.get("type") == "action" and not command.get("fetchTask") and not command.get("taskInfo"):
                problems.append(f"the action command “{command['id']}” needs fetchTask or taskInfo")
    if problems:
        raise PackageError("appPackage/manifest.json would be refused by Teams: " + "; ".join(problems) + ".")


def build_package(app_id: str, out: Path, public_url: str = "") -> Path:
    """Write the zip to ``out``; returns it."""
    content = manifest(app_id, public_url)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(content, indent=2, ensure_ascii=False))
        archive.writestr("color.png", color_icon())
        archive.writestr("outline.png", outline_icon())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return out
