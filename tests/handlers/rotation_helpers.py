"""Rotations written straight into their tables, and a clock set to a moment: for the reminder and
escalation tests."""

from __future__ import annotations

from datetime import date, datetime, timezone

from handlers.base import Actor
from storage import repos
from storage.models import Rotation, RotationMember


def set_clock(clock, moment: datetime) -> None:
    """The FakeClock reads ``moment`` now (and runs on from there in real time). Tests set moments
    after the real now: the outbox stamps a job as due at the real time, and a worker whose clock is
    behind would not deliver it yet."""
    clock.offset = moment - datetime.now(timezone.utc)


def person(session, platform: str, user_id: str, name: str) -> int:
    return repos.person_for(session, Actor(platform, user_id, name)).id


def make_rotation(db, name: str, people: list[int], *, tz: str = "UTC", start: date, days: str = "mon-fri",
                  at: str = "09:00", until: str = "17:00", channel: tuple[str, str] | None = None,
                  usergroup: str | None = None) -> int:
    with db.transaction() as s:
        r = Rotation(name=name, tz=tz, start_day=start, days=days, at_time=at, until_time=until,
                     channel_platform=channel[0] if channel else None, channel_id=channel[1] if channel else None,
                     usergroup=usergroup)
        s.add(r)
        s.flush()
        for pid in people:
            s.add(RotationMember(rotation_id=r.id, person_id=pid, joined_on=start))
        return r.id
