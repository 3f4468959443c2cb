"""Rotations through Teams: `@Pitchin rotation …` activities naming people with Teams mentions
(`<at>Bob Builder</at>` plus an entity with his id), the zone of the creator's Teams client, and
the Take it card answered when clicked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from handlers.rotations import shifts_between
from storage.models import Identity, Rotation, RotationMember
from tests.fakes.teams_connector import SUPPORT, card_actions, card_text
from tests.teams.stack import ANN, BOB


def with_mentions(activity: dict, *people: tuple[str, str], zone: str | None = None) -> dict:
    """Add mention entities for ``people`` (their `<at>name</at>` is in the text), as Teams sends them."""
    for user_id, name in people:
        activity["entities"].append({"type": "mention", "text": f"<at>{name}</at>",
                                     "mentioned": {"id": user_id, "name": name}})
    if zone:
        activity["localTimezone"] = zone
    return activity


async def command(s, user, text: str, *people, zone: str | None = None) -> str:
    activity = with_mentions(s.acts.message(user, text, mention=True), *people, zone=zone)
    status, body = await s.send(activity)
    assert status in (200, 201), body
    (answer,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == activity["id"])
    return answer.text


async def test_create_with_mentions_in_the_creators_zone_then_cover_and_take_it(teams_stack):
    s = teams_stack
    await s.choose_channel()
    said = await command(s, ANN, "rotation create support <at>Ann Example</at> <at>Bob Builder</at> channel here",
                         ANN, BOB, zone="Asia/Tokyo")
    assert "Rotation support created: Ann Example, Bob Builder, Mon–Fri 09:00–17:00 Asia/Tokyo." in said
    with s.pitchin.db.transaction() as session:
        rotation = session.execute(select(Rotation)).scalar_one()
        assert (rotation.tz, rotation.channel_platform, rotation.channel_id) == ("Asia/Tokyo", "teams", SUPPORT)
        ids = {i.user_id: i.person_id for i in session.execute(select(Identity)).scalars()}
        order = session.execute(select(RotationMember.person_id).order_by(RotationMember.id)).scalars().all()
        assert order == [ids[ANN[0]], ids[BOB[0]]]
        now = datetime.now(timezone.utc)
        bob_day = next(sh.day for sh in shifts_between(session, now, now + timedelta(days=14))
                       if sh.person_ids[0] == ids[BOB[0]])

    said = await command(s, BOB, f"rotation cover {bob_day.isoformat()}")
    assert said.startswith(f"<at>{BOB[1]}</at>\nAsked the rotation's channel to cover your shift"), said
    (post,) = await s.teams.wait_for("create", where=lambda c: "needs cover" in card_text(c.card))
    assert post.channel == SUPPORT
    (take,) = [d for d in card_actions(post.card) if d["action"] == "rotation.take"]
    click = await s.submit(ANN, take, post.new_id)
    (told,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == click["id"])
    assert f"You are on duty on {bob_day:%a} {bob_day.day} {bob_day:%b}" in told.text
    again = await s.submit(ANN, take, post.new_id)
    (late,) = await s.teams.wait_for("reply", where=lambda c: c.activity_id == again["id"])
    assert "Ann Example took it already" in late.text


async def test_an_unknown_zone_and_a_typo_get_the_usage_line_and_change_nothing(teams_stack):
    s = teams_stack
    said = await command(s, ANN, "rotation create support <at>Bob Builder</at> tz Mars/Base", BOB)
    assert "“Mars/Base” is not a time zone" in said and "Usage: @Pitchin rotation create" in said
    said = await command(s, ANN, "rotation swop <at>Bob Builder</at>", BOB)
    assert "Pitchin does not know “rotation swop”" in said
    with s.pitchin.db.transaction() as session:
        assert session.execute(select(func.count()).select_from(Rotation)).scalar_one() == 0
