"""Rotations through Slack: signed /pitchin commands naming people as Slack sends them with
should_escape (<@U123|ann>), the creator's profile time zone from users.info, DMs to those whose
shift moved, and the Take it button clicked by ten people at once (one wins)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from handlers.rotations import shifts_between
from storage import repos
from storage.models import Identity, Rotation, RotationMember

ROTA = "CROTA"
CREATE = "rotation create support <@UANN|ann> <@UBOB|bob> <@UCEM|cem> channel <#CROTA|rota>"


def people(stack) -> None:
    stack.slack.set_user("UANN", "Ann", "ann@acme.test", tz="America/New_York")
    stack.slack.set_user("UBOB", "Bob", "bob@acme.test")
    stack.slack.set_user("UCEM", "Cem", "cem@acme.test")
    stack.slack.set_user("UDAN", "Dan", "dan@acme.test")


async def say(stack, user: str, text: str) -> dict:
    status, response_id = await stack.command(user, text)
    assert status == 200
    return await stack.response(response_id)


def next_day_of(stack, user_id: str):
    """The next day ``user_id`` is on duty, as the database says."""
    now = datetime.now(timezone.utc)
    with stack.pitchin.db.transaction() as s:
        pid = s.execute(select(Identity.person_id).where(Identity.user_id == user_id)).scalar_one()
        return next(sh.day for sh in shifts_between(s, now, now + timedelta(days=30)) if sh.person_ids[0] == pid)


async def dms_to(stack, user_id: str, count: int = 1) -> list[str]:
    calls = await stack.slack.wait_for("chat.postMessage", count=count, where=lambda c: c.args.get("channel") == user_id)
    return [c.args.get("text", "") for c in calls]


async def test_create_names_people_as_slack_sends_them_in_the_creators_zone(stack):
    people(stack)
    answer = await say(stack, "UANN", CREATE)
    assert answer["text"].startswith("Rotation support created: Ann, Bob, Cem, Mon–Fri 09:00–17:00 America/New_York. ")
    assert "Each person is on duty one day every 3 working days; next: " in answer["text"]
    with stack.pitchin.db.transaction() as s:
        rotation = s.execute(select(Rotation)).scalar_one()
        assert (rotation.tz, rotation.channel_platform, rotation.channel_id) == ("America/New_York", "slack", ROTA)
        ids = {i.user_id: i.person_id for i in s.execute(select(Identity)).scalars()}
        order = s.execute(select(RotationMember.person_id).order_by(RotationMember.id)).scalars().all()
        assert order == [ids["UANN"], ids["UBOB"], ids["UCEM"]]
        assert repos.person_refs(s, order)[ids["UBOB"]].name == "Bob"
    who = await say(stack, "UBOB", "who")
    assert "Times below in Europe/London" in who["text"]  # Bob's own profile zone


async def test_add_tells_those_whose_next_shift_moved_by_dm(stack):
    people(stack)
    await say(stack, "UANN", CREATE)
    bob_before = next_day_of(stack, "UBOB")
    answer = await say(stack, "UANN", "rotation add support <@UDAN|dan> after <@UANN|ann>")
    assert "Told by DM that their next shift moved: Bob, Cem, Dan." in answer["text"]
    (to_bob,) = await dms_to(stack, "UBOB")
    bob_after = next_day_of(stack, "UBOB")
    assert to_bob == (f"Your next support day in the support rotation moved from {bob_before:%a} {bob_before.day} "
                      f"{bob_before:%b} to {bob_after:%a} {bob_after.day} {bob_after:%b}.")
    assert (await dms_to(stack, "UDAN"))[0].startswith("Your next support day in the support rotation is ")


async def test_ten_simultaneous_take_it_clicks_one_wins_both_are_told(any_stack):
    stack = any_stack
    people(stack)
    await say(stack, "UANN", CREATE)
    day = next_day_of(stack, "UBOB")
    answer = await say(stack, "UBOB", f"rotation cover {day.isoformat()}")
    assert answer["text"].startswith("Asked the rotation's channel to cover your shift"), answer["text"]
    (post,) = await stack.slack.wait_for("chat.postMessage", where=lambda c: c.args.get("channel") == ROTA)
    assert post.args["text"].startswith(f"Bob needs cover for {day:%a} {day.day} {day:%b}")
    buttons = [e for b in post.args["blocks"] for e in b.get("elements", []) if e.get("action_id") == "rotation.take"]
    assert [b["text"]["text"] for b in buttons] == ["Take it"]
    value = buttons[0]["value"]

    users = [f"UT{i:02d}" for i in range(10)]
    clicks = await asyncio.gather(*(stack.click("rotation.take", value, u, post.response["ts"], response_id=f"t-{u}")
                                    for u in users))
    assert all(status == 200 for status, _ in clicks)
    answers = {u: (await stack.response(f"t-{u}"))["text"] for u in users}
    winners = [u for u, text in answers.items() if text.startswith("You are on duty on")]
    assert len(winners) == 1, answers
    winner = winners[0]
    loser_text = f"{winner.lower()} took it already: {day:%a} {day.day} {day:%b} is covered."
    assert {text for u, text in answers.items() if u != winner} == {loser_text}
    (to_bob,) = await dms_to(stack, "UBOB")
    assert to_bob == f"{winner.lower()} takes your shift on {day:%a} {day.day} {day:%b} in the support rotation. " \
                     "You are off that day."
    with stack.pitchin.db.transaction() as s:
        winner_id = s.execute(select(Identity.person_id).where(Identity.user_id == winner)).scalar_one()
        now = datetime.now(timezone.utc)
        assert [sh.person_ids for sh in shifts_between(s, now, now + timedelta(days=30)) if sh.day == day] == [(winner_id,)]


async def test_bad_input_gets_the_usage_line_and_changes_nothing(stack):
    people(stack)
    for text, says in [
        ("rotation create support <@UANN|ann> tz Mars/Base", "“Mars/Base” is not a time zone"),
        ("rotation create support", "A rotation needs people"),
        ("rotation creat support <@UANN|ann>", "Pitchin does not know “rotation creat”"),
        ("rotation away <@UANN|ann> 2020-01-01", "is in the past"),
        ("rotation create support nobody", "Pitchin does not know “nobody”"),
    ]:
        answer = await say(stack, "UANN", text)
        assert says in answer["text"] and "Usage: /pitchin rotation" in answer["text"], answer["text"]
    with stack.pitchin.db.transaction() as s:
        assert s.execute(select(func.count()).select_from(Rotation)).scalar_one() == 0
