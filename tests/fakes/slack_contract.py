"""Contract check of Slack Web API calls against Slack's own OpenAPI 2.0 spec.

The spec (slackapi/slack-api-specs, MIT) lives outside the repo, in
``../shared/contracts/slack/slack_web_openapi_v2.json``. Tests that need it should
skip with :data:`SKIP_REASON` when :func:`contract_available` is false (a checkout
without ``../shared``).

The checker only looks at argument *names*: slack_sdk's AsyncWebClient sends some
methods form-encoded (or as query parameters) and others as JSON bodies, with
``blocks``/``view`` as JSON strings or objects depending on the path, so values and
encodings are not compared.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

CONTRACT_PATH: Path = (
    Path(__file__).resolve().parents[2].parent / "shared/contracts/slack/slack_web_openapi_v2.json"
)
EVENT_WRAPPER_SCHEMA_PATH: Path = CONTRACT_PATH.with_name("slack_common_event_wrapper_schema.json")

SKIP_REASON = (
    f"Slack contract files not found at {CONTRACT_PATH.parent} "
    "(checkout without ../shared/contracts); contract tests skipped"
)

# Arguments that are never checked: slack_sdk sends the token as an
# ``Authorization: Bearer`` header, not as an argument.
IGNORED_ARGS = frozenset({"token"})

# Only these parameter locations are "arguments" a caller passes.
_ARG_LOCATIONS = frozenset({"formData", "query", "body"})

# ---------------------------------------------------------------------------
# Allow-list: things Slack added after the 2021 spec file was generated.
# Keep it SHORT and only for methods/arguments Pitchin really uses; every
# entry says why. Everything else must be in the spec file.
# ---------------------------------------------------------------------------

# Arguments accepted on every method. slack_bolt gives each request's handlers an
# AsyncWebClient(team_id=<payload's team>) and slack_sdk then adds ``team_id`` as
# a default parameter to EVERY call it makes (support for org-wide apps), so
# even auth.test arrives with team_id. The 2021 file documents team_id on only a
# few methods (e.g. users.list).
GLOBAL_ARGS = frozenset({"team_id"})

# Methods missing from the 2021 file -> their documented arguments.
EXTRA_METHODS: dict[str, frozenset[str]] = {
    # Socket Mode (GA 2021, after the spec was cut): returns the WebSocket URL
    # to connect to. Takes no arguments; the app-level token (xapp-...) is
    # sent in the Authorization header by slack_sdk / slack_bolt.
    "apps.connections.open": frozenset(),
    # Slack's upload flow since 2024 (files.upload was retired in 2025), used by
    # slack_sdk's files_upload_v2 for `/feedback export`: ask for an upload URL,
    # POST the bytes there, then complete the upload into a channel or DM.
    "files.getUploadURLExternal": frozenset({"filename", "length", "alt_txt", "snippet_type"}),
    "files.completeUploadExternal": frozenset(
        {"files", "channel_id", "channels", "initial_comment", "thread_ts", "blocks"}
    ),
}

# Arguments missing from the 2021 file for methods that are in it.
EXTRA_ARGS: dict[str, frozenset[str]] = {
    # Message metadata (2022): lets the bot tag the messages it posts with
    # {event_type, event_payload} (e.g. which ticket a message belongs to).
    "chat.postMessage": frozenset({"metadata"}),
    "chat.update": frozenset({"metadata"}),
}


@lru_cache(maxsize=4)
def _load_spec(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def contract_available(path: Path | None = None) -> bool:
    """True when the OpenAPI spec file can be read (``../shared`` is present)."""
    return (path or CONTRACT_PATH).is_file()


class SlackContract:
    """Slack Web API methods and their documented arguments, from the OpenAPI spec."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        extra_methods: Mapping[str, Iterable[str]] | None = None,
        extra_args: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else CONTRACT_PATH
        spec = _load_spec(str(self.path))
        params: dict[str, set[str]] = {}
        for raw_path, operations in spec.get("paths", {}).items():
            method = raw_path.lstrip("/")
            names = params.setdefault(method, set())
            for op in operations.values():
                if not isinstance(op, dict):
                    continue
                for p in op.get("parameters", []):
                    if p.get("in") not in _ARG_LOCATIONS:
                        continue
                    if p.get("in") == "body":
                        # OpenAPI 2 body parameter: its schema's properties are the args.
                        names.update(p.get("schema", {}).get("properties", {}).keys())
                    else:
                        names.add(p["name"])
        for method, args in {**EXTRA_METHODS, **(extra_methods or {})}.items():
            params.setdefault(method, set()).update(args)
        for method, args in {**EXTRA_ARGS, **(extra_args or {})}.items():
            params.setdefault(method, set()).update(args)
        self._params = params

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self._params)

    def has_method(self, method: str) -> bool:
        return method in self._params

    def params(self, method: str) -> frozenset[str]:
        """Accepted argument names of ``method`` (without ``token``; with GLOBAL_ARGS)."""
        if method not in self._params:
            return frozenset()
        return frozenset((self._params[method] | GLOBAL_ARGS) - IGNORED_ARGS)

    def check(self, method: str, args: Mapping[str, Any]) -> list[str]:
        """Human-readable contract violations of one call; empty list when fine."""
        if method not in self._params:
            return [f"{method}: unknown Slack Web API method (not in {self.path.name} nor the allow-list)"]
        allowed = self._params[method]
        problems = []
        for name in sorted(args):
            if name in IGNORED_ARGS or name in GLOBAL_ARGS or name in allowed:
                continue
            problems.append(
                f"{method}: argument {name!r} is not a documented parameter "
                f"(documented: {', '.join(sorted(allowed - IGNORED_ARGS)) or 'none'})"
            )
        return problems
