"""A neutral Card as JSON and back, so that a card can wait in the outbox (a job's payload is JSON).

Strings stay strings; a person is ``{"person": name, "ids": [[platform, user id], …]}`` and a
moment ``{"when": "<ISO 8601>"}``, so each renderer still draws them natively when the job runs.
"""

from __future__ import annotations

from datetime import datetime

from handlers.base import Button, Card, Part, PersonRef, Rich, When


def _part_to_json(part: Part):
    if isinstance(part, PersonRef):
        return {"person": part.name, "ids": [list(i) for i in part.ids]}
    if isinstance(part, When):
        return {"when": part.at.isoformat()}
    return str(part)


def _part_from_json(value) -> Part:
    if isinstance(value, dict) and "person" in value:
        return PersonRef(value["person"], tuple((p, uid) for p, uid in value.get("ids", ())))
    if isinstance(value, dict) and "when" in value:
        return When(datetime.fromisoformat(value["when"]))
    return str(value)


def _rich_to_json(parts: Rich) -> list:
    return [_part_to_json(p) for p in parts]


def _rich_from_json(values) -> Rich:
    return tuple(_part_from_json(v) for v in values or ())


def card_to_json(card: Card) -> dict:
    return {
        "title": card.title,
        "body": card.body,
        "fields": [[label, _rich_to_json(value)] for label, value in card.fields],
        "status": _rich_to_json(card.status),
        "actions": [{"label": b.label, "action_id": b.action_id, "value": b.value, "style": b.style,
                     "confirm": b.confirm} for b in card.actions],
        "accent": card.accent,
        "body_truncated": card.body_truncated,
    }


def card_from_json(data: dict) -> Card:
    return Card(
        title=data["title"],
        body=data.get("body", ""),
        fields=tuple((label, _rich_from_json(value)) for label, value in data.get("fields", ())),
        status=_rich_from_json(data.get("status")),
        actions=tuple(Button(**b) for b in data.get("actions", ())),
        accent=data.get("accent", "neutral"),
        body_truncated=data.get("body_truncated", False),
    )
