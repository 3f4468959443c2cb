"""Doctor, Slack: the token works (auth.test), it has the manifest's scopes, the bot is in the support
channel, and the Socket Mode token opens a connection.

Calls go to SLACK_API_URL, where the app's own Web API client goes, with a few seconds for each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import placeholders
from bot.doctor.result import Check

AREA = "Slack"
CALL_SECONDS = 5.0
MANIFEST = "manifest.yml"
TOKEN_ADVICE = ("copy the Bot User OAuth Token (xoxb-…) again from your Slack app's OAuth & Permissions page "
                "into SLACK_BOT_TOKEN; if the app was uninstalled, install it to the workspace again")
APP_TOKEN_ADVICE = ("make an app-level token with the connections:write scope (Basic Information → App-Level Tokens) "
                    "and put it in SLACK_APP_TOKEN, and switch Socket Mode on (Settings → Socket Mode)")


class SlackUnreachable(Exception):
    pass


async def checks(settings, send_to: str | None = None) -> list[Check]:
    if not settings.slack_bot_token:
        return [Check(AREA, "SLACK_BOT_TOKEN", False, "not configured", skipped=True)]
    stand_ins = {p.var: p for p in placeholders(settings)}
    api = _Api(settings.slack_api_url)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_SECONDS)) as session:
        found = await _token_and_scopes(api, session, settings.slack_bot_token, stand_ins)
        token_works = found[0].ok
        found.append(await _support_channel(api, session, settings, stand_ins, token_works))
        if settings.slack_socket_mode:
            found.append(await _socket_mode(api, session, settings.slack_app_token, stand_ins))
        elif "SLACK_SIGNING_SECRET" in stand_ins:  # only a placeholder can be told apart from here
            p = stand_ins["SLACK_SIGNING_SECRET"]
            found.append(Check(AREA, "signing secret", False, f"{p.var} {p.detail}", p.advice))
    return found


class _Api:
    def __init__(self, base_url: str):
        self.base = base_url if base_url.endswith("/") else base_url + "/"

    async def call(self, session: aiohttp.ClientSession, method: str, token: str,
                   **args: Any) -> tuple[dict[str, Any], Any]:
        """(Slack's JSON answer, the response headers); SlackUnreachable when no JSON answer came."""
        try:
            async with session.post(self.base + method, data={k: str(v) for k, v in args.items()},
                                    headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status != 200:
                    raise SlackUnreachable(f"{self.base}{method} answered HTTP {response.status}")
                return await response.json(content_type=None), response.headers
        except TimeoutError:
            raise SlackUnreachable(f"{self.base}{method} did not answer within {CALL_SECONDS:g} s") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise SlackUnreachable(f"{self.base}{method}: {str(exc).strip() or type(exc).__name__}") from None


UNREACHABLE_ADVICE = ("check that this machine reaches Slack (proxy, firewall); SLACK_API_URL should be unset "
                      "(it defaults to https://slack.com/api/)")


async def _token_and_scopes(api: _Api, session, token: str, stand_ins) -> list[Check]:
    name = "token (auth.test)"
    if "SLACK_BOT_TOKEN" in stand_ins:
        p = stand_ins["SLACK_BOT_TOKEN"]
        return [Check(AREA, name, False, f"{p.var} {p.detail}", p.advice)]
    try:
        answer, headers = await api.call(session, "auth.test", token)
    except SlackUnreachable as exc:
        return [Check(AREA, name, False, str(exc), UNREACHABLE_ADVICE)]
    if not answer.get("ok"):
        return [Check(AREA, name, False, f"Slack answered {answer.get('error', 'an error')}", TOKEN_ADVICE)]
    who = f"connected as @{answer.get('user', '?')} in {answer.get('team', '?')} ({answer.get('team_id', '?')})"
    return [Check(AREA, name, True, who), _scopes(headers.get("x-oauth-scopes"))]


def _scopes(granted_header: str | None) -> Check:
    name = "scopes"
    manifest = _manifest_path()
    if manifest is None:
        return Check(AREA, name, False, f"{MANIFEST} not found next to Pitchin: nothing to compare with",
                     skipped=True)
    wanted = manifest_bot_scopes(manifest.read_text(encoding="utf-8"))
    if granted_header is None:
        return Check(AREA, name, False, "Slack's answer did not list the token's scopes (x-oauth-scopes)",
                     f"compare OAuth & Permissions → Scopes with {MANIFEST} by hand", needed=False)
    granted = {s.strip() for s in granted_header.split(",") if s.strip()}
    missing = [s for s in wanted if s not in granted]
    if missing:
        return Check(AREA, name, False, f"missing {', '.join(missing)}",
                     f"add {'it' if len(missing) == 1 else 'them'} under OAuth & Permissions → Scopes (or paste "
                     f"{MANIFEST} into App Manifest), then reinstall the app to the workspace")
    return Check(AREA, name, True, f"all {len(wanted)} of {MANIFEST}")


async def _support_channel(api: _Api, session, settings, stand_ins, token_works: bool) -> Check:
    name = "bot is in the support channel"
    channel = settings.support_channel
    if "PITCHIN_SUPPORT_CHANNEL" in stand_ins:
        p = stand_ins["PITCHIN_SUPPORT_CHANNEL"]
        return Check(AREA, name, False, f"{p.var} {p.detail}", p.advice)
    if not token_works:
        return Check(AREA, name, False, "not checked: the token does not work", skipped=True)
    try:
        answer, _ = await api.call(session, "conversations.info", settings.slack_bot_token, channel=channel)
        if answer.get("error") == "missing_scope":
            # the manifest does not ask for channels:read; reading one message needs only *:history,
            # which it does ask for, and tells "not a member" (not_in_channel) from "no such channel"
            answer, _ = await api.call(session, "conversations.history", settings.slack_bot_token,
                                       channel=channel, limit=1)
            answer = {"ok": True, "channel": {"id": channel, "is_member": True}} if answer.get("ok") else answer
    except SlackUnreachable as exc:
        return Check(AREA, name, False, str(exc), UNREACHABLE_ADVICE)
    error = answer.get("error")
    info = answer.get("channel") or {}
    label = f"#{info['name']} ({channel})" if info.get("name") else channel
    invite = "invite Pitchin: /invite @Pitchin in " + (f"#{info['name']}" if info.get("name") else
                                                        f"the support channel ({channel})")
    if answer.get("ok") and info.get("is_member"):
        return Check(AREA, name, True, label)
    if answer.get("ok") or error == "not_in_channel":
        return Check(AREA, name, False, f"{label}: Pitchin is not a member", invite)
    if error == "channel_not_found":
        return Check(AREA, name, False, f"PITCHIN_SUPPORT_CHANNEL is “{channel}”: Slack knows no such channel "
                                        "(or it is private and Pitchin is not in it)",
                     "set PITCHIN_SUPPORT_CHANNEL to the channel's id (channel details, at the bottom: C…); "
                     "for a private channel, invite Pitchin first: /invite @Pitchin")
    return Check(AREA, name, False, f"{label}: Slack answered {error}", invite)


async def _socket_mode(api: _Api, session, app_token: str, stand_ins) -> Check:
    name = "Socket Mode token (apps.connections.open)"
    if "SLACK_APP_TOKEN" in stand_ins:
        p = stand_ins["SLACK_APP_TOKEN"]
        return Check(AREA, name, False, f"{p.var} {p.detail}", p.advice)
    try:
        answer, _ = await api.call(session, "apps.connections.open", app_token)
    except SlackUnreachable as exc:
        return Check(AREA, name, False, str(exc), UNREACHABLE_ADVICE)
    if answer.get("ok"):
        return Check(AREA, name, True, "Slack offers a Socket Mode connection")
    return Check(AREA, name, False, f"Slack answered {answer.get('error', 'an error')}", APP_TOKEN_ADVICE)


def _manifest_path() -> Path | None:
    """manifest.yml of a source checkout (next to bot/), or in the folder Pitchin runs in."""
    for folder in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (folder / MANIFEST).is_file():
            return folder / MANIFEST
    return None


def manifest_bot_scopes(text: str) -> list[str]:
    """The bot scopes listed under oauth_config → scopes → bot in manifest.yml's text.

    A few lines of reading instead of a YAML parser: PyYAML is not among Pitchin's dependencies,
    and this one list, one scope per "- " line, is all the doctor needs (a test compares with PyYAML)."""
    scopes, path = [], []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        item = re.fullmatch(r"\s*-\s+(\S+)", line)
        if item:
            if [key for _, key in path] == ["oauth_config", "scopes", "bot"]:
                scopes.append(item.group(1).strip("\"'"))
            continue
        key = line.strip().split(":", 1)[0]
        path = [(i, k) for i, k in path if i < indent] + [(indent, key)]
    return scopes
