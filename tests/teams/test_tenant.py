"""Pitchin serves one Microsoft 365 organisation: an activity from another tenant reads nothing and
changes nothing. The tenant is MICROSOFT_APP_TENANT_ID, or else the one that first said
`@Pitchin tickets here`."""

from __future__ import annotations

import logging

import pytest

from storage.models import Setting, Ticket
from tests.fakes.teams_connector import TENANT, Activities, card_actions
from tests.stack import raw_mail
from tests.teams.stack import ANN, start_teams_stack, stop_teams_stack

OTHER = "tenant-evil"
OTHER_CHANNEL = "19:evil-channel@thread.tacv2"
MALLORY = ("29:mallory", "Mallory")


async def _ticket(s) -> tuple[int, str]:
    """A customer's email becomes a ticket in the channel chosen by Acme; its id and card's id."""
    await s.choose_channel()
    status, body = await s.post_email(raw_mail(subject="Refund for order 4711"))
    assert status == 202
    card = await s.ticket()
    return body["ticket_id"], card.new_id


def _channel_setting(s) -> dict:
    with s.pitchin.db.transaction() as session:
        return dict(session.get(Setting, "teams.ticket_channel").value)


async def _refused_everything_from_another_tenant(s, caplog) -> None:
    ticket_id, root = await _ticket(s)
    channel_before = _channel_setting(s)
    calls_before = len(s.teams.calls)
    evil = Activities(s.teams, tenant=OTHER, team="19:team-evil@thread.tacv2")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        attempts = [
            evil.message(MALLORY, "list", mention=True),
            evil.message(MALLORY, f"close {ticket_id}", mention=True),
            evil.submit(MALLORY, {"action": "ticket.close", "ticket_id": ticket_id}, root, thread=root),
            evil.message(MALLORY, "tickets here", channel=OTHER_CHANNEL, mention=True),
            evil.invoke(MALLORY, "task/fetch", {"data": {"action": "feedback.from_ticket", "ticket_id": ticket_id}}),
        ]
        for activity in attempts:
            status, body = await s.send(activity)
            assert status == 403 and "serves another Microsoft 365 organisation" in body
    assert s.teams.calls[calls_before:] == []  # nothing listed, nothing said, nothing asked of Teams
    with s.pitchin.db.transaction() as session:
        assert session.get(Ticket, ticket_id).status == "open"
    assert _channel_setting(s) == channel_before
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(attempts)  # one line each …
    for record, activity in zip(refusals, attempts):
        line = record.getMessage()
        assert OTHER in line and activity["type"] in line and len(line) < 200  # … naming tenant and type only
        assert "Refund" not in line and "close" not in line and "tickets here" not in line


async def test_with_a_configured_tenant_another_tenant_reads_and_changes_nothing(sqlite_url, caplog):
    s = await start_teams_stack(sqlite_url, microsoft_app_tenant_id=TENANT)
    try:
        await _refused_everything_from_another_tenant(s, caplog)
    finally:
        await stop_teams_stack(s)


async def test_with_a_configured_tenant_another_tenant_cannot_even_choose_the_first_channel(sqlite_url):
    s = await start_teams_stack(sqlite_url, microsoft_app_tenant_id=TENANT)
    try:
        evil = Activities(s.teams, tenant=OTHER)
        status, _ = await s.send(evil.message(MALLORY, "tickets here", mention=True))
        assert status == 403 and s.teams.calls == []
        with s.pitchin.db.transaction() as session:
            assert session.get(Setting, "teams.ticket_channel") is None
    finally:
        await stop_teams_stack(s)


async def test_a_multi_tenant_app_binds_to_the_tenant_that_chose_the_ticket_channel(sqlite_url, caplog):
    s = await start_teams_stack(sqlite_url)  # no MICROSOFT_APP_TENANT_ID
    try:
        evil = Activities(s.teams, tenant=OTHER)
        # before anyone has chosen a channel, any tenant may talk (that is how the first one chooses)
        asked = evil.message(MALLORY, "help", mention=True, activity_id="evil-1")
        status, _ = await s.send(asked)
        assert status in (200, 201)
        await s.teams.wait_for("reply", where=lambda c: c.activity_id == asked["id"])
        await _refused_everything_from_another_tenant(s, caplog)  # Acme chose first: Acme's Pitchin now
    finally:
        await stop_teams_stack(s)


async def test_the_binding_survives_a_restart(sqlite_url):
    s = await start_teams_stack(sqlite_url)
    try:
        await s.choose_channel()
        await s.restart()
        status, _ = await s.send(Activities(s.teams, tenant=OTHER).message(MALLORY, "list", mention=True))
        assert status == 403
    finally:
        await stop_teams_stack(s)


@pytest.mark.parametrize("configured", [TENANT, ""])
async def test_the_served_tenant_works_as_before(sqlite_url, configured):
    s = await start_teams_stack(sqlite_url, microsoft_app_tenant_id=configured)
    try:
        ticket_id, root = await _ticket(s)
        listed = await s.say(ANN, "list", mention=True)
        (answer,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == listed["id"])
        assert f"#{ticket_id}" in answer.text and "Refund for order 4711" in answer.text
        closing = next(d for d in card_actions((await s.ticket()).card) if d["action"] == "ticket.close")
        await s.submit(ANN, closing, root, thread=root)
        await s.teams.wait_for("update", where=lambda c: c.activity_id == root)
        with s.pitchin.db.transaction() as session:
            assert session.get(Ticket, ticket_id).status == "closed"
    finally:
        await stop_teams_stack(s)


def test_the_core_keeps_the_channel_with_the_tenant_that_chose_it(ctx):
    """Two tenants saying `tickets here` at the same moment both pass the gate: the core settles it."""
    from handlers import channels
    from handlers.base import Actor

    place = {"conversation": {"id": "19:acme"}}
    first = channels.set_ticket_channel(ctx, Actor("teams", "29:ann", "Ann", tenant=TENANT), "teams", place, "19:acme")
    assert first.ok
    second = channels.set_ticket_channel(ctx, Actor("teams", "29:mallory", "Mallory", tenant=OTHER), "teams",
                                         {"conversation": {"id": "19:evil"}}, "19:evil")
    assert not second.ok and "another organisation" in second.text
    assert channels.ticket_channel(ctx, "teams") == place
