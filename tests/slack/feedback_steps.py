"""What a person does with feedback on Slack, as signed requests to the real app (tests/stack.py),
and how to read what they were shown. Shared by tests/slack/test_feedback*.py."""

from __future__ import annotations

import json
import time

from tests.fakes.slack_api import (
    message_shortcut_body,
    new_trigger_id,
    slash_command_body,
    view_action_body,
    view_problems,
    view_submission_body,
)
from tests.stack import CHANNEL, Stack

FORM = "application/x-www-form-urlencoded"


def texts(blocks) -> str:
    """Every piece of text in a list of blocks, one per line."""
    out = []
    for b in blocks or []:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        for e in b.get("fields", []) + b.get("elements", []):
            if isinstance(e, dict) and isinstance(e.get("text"), (str, dict)):
                out.append(e["text"] if isinstance(e["text"], str) else e["text"]["text"])
    return "\n".join(out)


def buttons(blocks) -> list[tuple[str, str, str]]:
    """(action_id, value, label) of every button, in order."""
    return [(e["action_id"], e["value"], e["text"]["text"]) for b in blocks or [] if b["type"] == "actions"
            for e in b["elements"] if e["type"] == "button"]


def button(blocks, label: str) -> tuple[str, str]:
    for action_id, value, text in buttons(blocks):
        if text == label:
            return action_id, value
    raise AssertionError(f"no button {label!r} among {buttons(blocks)}")


def inputs(view) -> dict[str, dict]:
    """The modal's input elements by block_id."""
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


async def command(stack: Stack, user: str, text: str, trigger_id: str | None = None) -> str:
    """`/feedback <text>` typed by ``user`` in the support channel; returns the response id."""
    response_id = f"fb-{time.monotonic_ns()}"
    body = slash_command_body("/feedback", text, user, CHANNEL, stack.slack.url_for_response(response_id),
                              trigger_id=trigger_id)
    status, _ = await stack.slack_post(body, FORM)
    assert status == 200
    return response_id


async def answer(stack: Stack, user: str, text: str) -> dict:
    """`/feedback <text>` and the ephemeral answer to it (text, blocks, response_type …)."""
    return await stack.response(await command(stack, user, text))


async def opened(stack: Stack, trigger_id: str) -> dict:
    """The modal Pitchin opened with ``trigger_id``, as Slack holds it (with its id)."""
    (call,) = await stack.slack.wait_for("views.open", where=lambda c: c.args["trigger_id"] == trigger_id)
    assert call.ok, call.response
    return call.response["view"]


async def open_form(stack: Stack, user: str) -> dict:
    """`/feedback` alone: the modal."""
    trigger = new_trigger_id()
    await command(stack, user, "", trigger_id=trigger)
    return await opened(stack, trigger)


async def submit(stack: Stack, user: str, view: dict, typed: dict) -> dict | None:
    """Press "Log it" after typing ``typed`` (block_id → text or option value); the JSON Pitchin
    acknowledged with (``response_action`` …), or None for a bare acknowledgement."""
    status, text = await stack.slack_post(view_submission_body(view, user, typed), FORM)
    assert status == 200, text
    ack = json.loads(text) if text else None
    if ack and "view" in ack:
        assert view_problems(ack["view"]) == []
    return ack


async def shown(stack: Stack, view_id: str, count: int = 1) -> dict:
    """The view ``view_id`` after Pitchin's ``count``-th views.update of it."""
    calls = await stack.slack.wait_for("views.update", count=count, where=lambda c: c.args.get("view_id") == view_id)
    assert calls[count - 1].ok, calls[count - 1].response
    return calls[count - 1].response["view"]


async def log_with_form(stack: Stack, user: str, typed: dict) -> dict:
    """Open the form, submit it; the view the person then sees (new card, or an offer)."""
    view = await open_form(stack, user)
    ack = await submit(stack, user, view, typed)
    assert ack["response_action"] == "update"
    return await shown(stack, view["id"])


async def click_in_view(stack: Stack, user: str, view: dict, label: str) -> None:
    action_id, value = button(view["blocks"], label)
    status, _ = await stack.slack_post(view_action_body(view, action_id, value, user), FORM)
    assert status == 200


async def shortcut(stack: Stack, user: str, message: dict, channel: str = CHANNEL) -> dict:
    """"Log as feedback" from the "…" menu of ``message``: the modal it opened."""
    trigger = new_trigger_id()
    body = message_shortcut_body("log_feedback", user, channel, message,
                                 stack.slack.url_for_response(f"sc-{time.monotonic_ns()}"), trigger_id=trigger)
    status, _ = await stack.slack_post(body, FORM)
    assert status == 200
    return await opened(stack, trigger)
