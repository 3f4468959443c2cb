"""`pitchin teams-package` writes an app package Teams accepts: the bot's id, the permission to read
channel replies without an @mention, the commands, the "Log as feedback" message action, and two PNG
icons of the sizes Teams asks for."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from bot.teams.feedback import MESSAGE_ACTION
from bot.teams.saved import MESSAGE_ACTION as SAVE_ACTION
from bot.teams.package import PackageError, build_package, check, manifest

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "8e4c2a9e-0a4f-4f5e-9d61-3c2b7f0e1a11"


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of a PNG, read by the book: signature, IHDR, IDAT, CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, f"bad CRC in {tag!r}"
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, color_type, interlace) == (8, 6, 0)  # 8-bit RGBA, not interlaced
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + width * 4
    assert len(raw) == height * stride and b"IEND" in chunks
    pixels = []
    for y in range(height):
        row = raw[y * stride:(y + 1) * stride]
        assert row[0] == 0  # filter "None": what the writer uses
        pixels += [tuple(row[1 + 4 * x:5 + 4 * x]) for x in range(width)]
    return width, height, pixels


def test_the_command_writes_a_package_with_id_permission_commands_and_icons(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MICROSOFT_APP_ID": APP_ID,
           "PITCHIN_PUBLIC_URL": "https://support.acme.test/"}
    out = tmp_path / "out" / "acme-teams.zip"
    result = subprocess.run([sys.executable, "-m", "bot", "teams-package", "--out", str(out)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"Wrote {out}" in result.stdout and "@Pitchin tickets here" in result.stdout

    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        m = json.loads(archive.read("manifest.json"))
        color = png_pixels(archive.read("color.png"))
        outline = png_pixels(archive.read("outline.png"))

    assert m["id"] == APP_ID and m["bots"][0]["botId"] == APP_ID and m["webApplicationInfo"]["id"] == APP_ID
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in \
        m["authorization"]["permissions"]["resourceSpecific"]
    (commands,) = m["bots"][0]["commandLists"]
    assert [c["title"] for c in commands["commands"]] == ["tickets here", "help", "list", "feedback", "saved"]
    assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128 for c in commands["commands"])
    assert set(m["bots"][0]["scopes"]) == {"team", "personal"}
    assert m["bots"][0]["supportsFiles"] is True  # the feedback export is handed over as a file in a 1:1 chat
    # "Log as feedback" on any message: an action command that asks the bot for its dialog
    (extension,) = m["composeExtensions"]
    assert extension["botId"] == APP_ID
    action, save = extension["commands"]
    assert action == {"id": MESSAGE_ACTION, "type": "action", "title": "Log as feedback",
                      "description": action["description"], "context": ["message"], "fetchTask": True}
    assert len(action["description"]) <= 128
    # "Save as reply" on an answer sent to a customer: the same kind of command
    assert save == {"id": SAVE_ACTION, "type": "action", "title": "Save as reply",
                    "description": save["description"], "context": ["message"], "fetchTask": True}
    assert m["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert m["developer"]["websiteUrl"] == "https://support.acme.test" and m["validDomains"] == ["support.acme.test"]
    assert "{{" not in json.dumps(m)

    assert color[:2] == (192, 192) and outline[:2] == (32, 32)
    assert len(set(color[2])) >= 2  # a drawing, not a blank square
    # Teams: the outline icon is white on transparent, nothing else
    assert {p for p in outline[2] if p[3]} == {(255, 255, 255, 255)}
    assert any(p[3] == 0 for p in outline[2]) and any(p[3] == 255 for p in outline[2])


def test_without_an_app_id_the_command_says_what_to_set(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "teams-package"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "MICROSOFT_APP_ID is not set" in result.stderr and "Microsoft App ID" in result.stderr
    assert not (tmp_path / "pitchin-teams.zip").exists()


def test_a_malformed_id_and_a_placeholder_site(tmp_path):
    with pytest.raises(PackageError, match="not a Microsoft app id"):
        build_package("my-bot", tmp_path / "x.zip")
    m = manifest(APP_ID)
    assert m["developer"]["privacyUrl"].startswith("https://") and m["validDomains"] == []


def test_a_manifest_teams_would_refuse_is_not_packaged():
    m = manifest(APP_ID)
    m["composeExtensions"][0]["commands"][0]["title"] = "Log this message as customer feedback"
    del m["composeExtensions"][0]["commands"][0]["fetchTask"]
    m["bots"][0]["commandLists"][0]["commands"].append({"title": "x" * 33, "description": "too long a title"})
    with pytest.raises(PackageError) as refused:
        check(m)
    message = str(refused.value)
    assert "“logFeedback” has a field over Teams' limits" in message and "needs fetchTask" in message
    assert f"“{'x' * 33}”" in message
    check(manifest(APP_ID))  # the shipped template passes
