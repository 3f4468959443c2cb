"""The shift API: who is on duty when, from the rotation tables, with explicit dates (no clock).

The order over 8 weeks, 09:00 local across the 2027 DST changes in three zones, and what skip,
away, cover, swap, onboarding, add and remove do to the order."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from handlers.rotation_schedule import parse_days
from handlers.rotations import shifts_between
from storage.models import (Person, Rotation, RotationAway, RotationMember, RotationOnboarding,
                            RotationOverride)

UTC = timezone.utc
MON = date(2026, 11, 30)  # a Monday


def people(session, *names) -> dict[str, int]:
    ids = {}
    for name in names:
        p = Person(name=name)
        session.add(p)
        session.flush()
        ids[name] = p.id
    return ids


def rotation(session, order: list[int], name="support", tz="Europe/Berlin", start=MON, **kw) -> int:
    r = Rotation(name=name, tz=tz, start_day=start, **kw)
    session.add(r)
    session.flush()
    for pid in order:
        session.add(RotationMember(rotation_id=r.id, person_id=pid, joined_on=start))
    session.flush()
    return r.id


def utc(day: date, hour=0) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def on_duty(session, first: date, days: int, rotation_id=None) -> list[tuple[date, tuple[int, ...]]]:
    return [(s.day, s.person_ids) for s in shifts_between(session, utc(first), utc(first + timedelta(days=days)),
                                                          rotation_id)]


def test_one_person_each_working_day_in_the_order_given_over_8_weeks(database):
    with database.transaction() as s:
        p = people(s, "ann", "bob", "cem")
        rid = rotation(s, [p["ann"], p["bob"], p["cem"]])
        shifts = shifts_between(s, utc(MON), utc(MON + timedelta(weeks=8)))
    assert [sh.day for sh in shifts] == [MON + timedelta(days=i) for i in range(56) if (MON + timedelta(days=i)).weekday() < 5]
    order = [p["ann"], p["bob"], p["cem"]]
    assert [sh.person_ids for sh in shifts] == [(order[i % 3],) for i in range(40)]
    assert Counter(sh.person_ids[0] for sh in shifts) == {p["ann"]: 14, p["bob"]: 13, p["cem"]: 13}
    first = shifts[0]
    assert (first.rotation_id, first.rotation, first.buddy_id, first.channel, first.usergroup) == (rid, "support", None, None, None)
    berlin = ZoneInfo("Europe/Berlin")
    assert first.start.astimezone(berlin).time() == time(9) and first.end.astimezone(berlin).time() == time(17)
    assert first.start.tzinfo is not None and first.start.utcoffset() == timedelta(0)


def test_09_00_local_holds_across_the_2027_dst_changes_in_three_zones(database):
    start = date(2027, 3, 8)
    with database.transaction() as s:
        p = people(s, "ann", "bob")
        for zone in ("Europe/Berlin", "America/New_York", "Asia/Tokyo"):
            rotation(s, [p["ann"], p["bob"]], name=zone, tz=zone, start=start)
        shifts = shifts_between(s, utc(start), utc(date(2027, 4, 3)))
    by_zone: dict[str, dict[date, datetime]] = {}
    for sh in shifts:
        by_zone.setdefault(sh.rotation, {})[sh.day] = sh.start
        local = sh.start.astimezone(ZoneInfo(sh.rotation))
        assert (local.date(), local.time()) == (sh.day, time(9)), sh
        assert sh.end.astimezone(ZoneInfo(sh.rotation)).time() == time(17)
    ny, berlin, tokyo = by_zone["America/New_York"], by_zone["Europe/Berlin"], by_zone["Asia/Tokyo"]
    # the US changes on Sunday 14 March: 14:00 UTC before, 13:00 after
    assert ny[date(2027, 3, 12)] == datetime(2027, 3, 12, 14, tzinfo=UTC)
    assert ny[date(2027, 3, 15)] == datetime(2027, 3, 15, 13, tzinfo=UTC)
    # the EU on Sunday 28 March: 08:00 UTC before, 07:00 after; the two weeks between are 5 h apart, not 6
    assert berlin[date(2027, 3, 26)] == datetime(2027, 3, 26, 8, tzinfo=UTC)
    assert berlin[date(2027, 3, 29)] == datetime(2027, 3, 29, 7, tzinfo=UTC)
    assert ny[date(2027, 3, 22)] - berlin[date(2027, 3, 22)] == timedelta(hours=5)
    # Tokyo has no DST: always midnight UTC
    assert {d.time() for d in tokyo.values()} == {time(0)}
    # shifts come in time order: Tokyo's day starts first
    assert [sh.rotation for sh in shifts[:3]] == ["Asia/Tokyo", "Europe/Berlin", "America/New_York"]


def test_a_skipped_day_has_no_shift_and_nobody_loses_a_turn(database):
    with database.transaction() as s:
        p = people(s, "ann", "bob", "cem")
        rid = rotation(s, [p["ann"], p["bob"], p["cem"]])
        s.add(RotationOverride(rotation_id=rid, day=MON + timedelta(days=1), kind="skip"))
        s.flush()
        week = on_duty(s, MON, 7)
        eight_weeks = shifts_between(s, utc(MON), utc(MON + timedelta(weeks=8)))
    a, b, c = p["ann"], p["bob"], p["cem"]
    assert week == [(MON, (a,)), (MON + timedelta(days=2), (b,)), (MON + timedelta(days=3), (c,)),
                    (MON + timedelta(days=4), (a,))]
    assert Counter(sh.person_ids[0] for sh in eight_weeks) == {a: 13, b: 13, c: 13}  # 39 days, 13 each


def test_away_hands_the_days_to_the_next_in_order_and_nobody_loses_or_doubles_a_turn(database):
    with database.transaction() as s:
        p = people(s, "ann", "bob", "cem")
        a, b, c = p["ann"], p["bob"], p["cem"]
        rid = rotation(s, [a, b, c])
        before = Counter(sh.person_ids[0] for sh in shifts_between(s, utc(MON), utc(MON + timedelta(weeks=8))))
        s.add(RotationAway(person_id=b, first_day=MON + timedelta(days=1), last_day=MON + timedelta(days=2)))
        s.flush()
        week = on_duty(s, MON, 5)
        after = Counter(sh.person_ids[0] for sh in shifts_between(s, utc(MON), utc(MON + timedelta(weeks=8)), rid))
    # Tue was Bob's: Cem (next) takes it; Wed Ann; Bob kept his place and is on duty the day he is back
    assert [who for _, who in week] == [(a,), (c,), (a,), (b,), (c,)]
    assert after == before  # over the weeks, the same number of turns each


def test_cover_and_swap_change_one_day_and_an_open_cover_changes_nothing(database):
    with database.transaction() as s:
        p = people(s, "ann", "bob", "cem", "dan")
        a, b, c, d = p["ann"], p["bob"], p["cem"], p["dan"]
        rid = rotation(s, [a, b, c])
        tue, wed, thu, fri = (MON + timedelta(days=i) for i in (1, 2, 3, 4))
        s.add(RotationOverride(rotation_id=rid, day=tue, kind="cover", person_id=d, replaces_id=b))
        s.add(RotationOverride(rotation_id=rid, day=wed, kind="swap", person_id=a, replaces_id=c))
        s.add(RotationOverride(rotation_id=rid, day=thu, kind="swap", person_id=c, replaces_id=a))
        s.add(RotationOverride(rotation_id=rid, day=fri, kind="cover", person_id=b, replaces_id=b))  # not taken yet
        s.flush()
        week = on_duty(s, MON, 8)
    assert [who for _, who in week] == [(a,), (d,), (a,), (c,), (b,), (c,)]


def test_a_new_hire_is_on_duty_alongside_for_n_shifts_then_joins_at_the_end(database):
    with database.transaction() as s:
        p = people(s, "ann", "bob", "cem", "new")
        a, b, c, h = p["ann"], p["bob"], p["cem"], p["new"]
        rid = rotation(s, [a, b, c])
        tue = MON + timedelta(days=1)
        s.add(RotationOnboarding(rotation_id=rid, person_id=h, buddy_id=b, first_day=tue, days=3))
        s.add(RotationMember(rotation_id=rid, person_id=h, joined_on=tue))
        s.flush()
        shifts = shifts_between(s, utc(MON), utc(MON + timedelta(days=10)))
    assert [sh.person_ids for sh in shifts] == [(a,), (b, h), (c, h), (a, h), (b,), (c,), (a,), (h,)]
    assert [sh.buddy_id for sh in shifts[:5]] == [None, b, b, b, None]


def test_added_after_someone_or_at_the_end_and_removed_from_a_day_on(database):
    with database.transaction() as s:
        p = people(s, "ann", "bob", "cem", "dan", "eve")
        a, b, c, d, e = p["ann"], p["bob"], p["cem"], p["dan"], p["eve"]
        rid = rotation(s, [a, b, c])
        wed = MON + timedelta(days=2)
        s.add(RotationMember(rotation_id=rid, person_id=d, joined_on=wed, after_person_id=a))
        s.add(RotationMember(rotation_id=rid, person_id=e, joined_on=wed))
        s.flush()
        s.get(RotationMember, 2).left_on = MON + timedelta(days=7)  # Bob leaves from next Monday
        s.flush()
        two_weeks = [who[0] for _, who in on_duty(s, MON, 14)]
    # Mon a, Tue b; Wed the queue is [c, a, d, b, e]; Bob, next on the second Monday, is gone by then
    assert two_weeks == [a, b, c, a, d, e, c, a, d, e]


def test_shifts_overlapping_the_window_only_one_rotation_and_overnight_ends(database):
    with database.transaction() as s:
        p = people(s, "ann", "bob")
        first = rotation(s, [p["ann"], p["bob"]], name="day", channel_platform="slack", channel_id="C1",
                         usergroup="S1")
        night = rotation(s, [p["bob"], p["ann"]], name="night", tz="UTC", at_time="22:00", until_time="06:00",
                         days="mon,wed")
        # Tuesday 03:00 UTC: inside Monday's night shift, before Tuesday's day shift
        now = shifts_between(s, datetime(2026, 12, 1, 3, tzinfo=UTC), datetime(2026, 12, 1, 4, tzinfo=UTC))
        only_day = shifts_between(s, utc(MON), utc(MON + timedelta(days=7)), rotation_id=first)
    assert [(sh.rotation_id, sh.day, sh.person_ids) for sh in now] == [(night, MON, (p["bob"],))]
    assert now[0].end == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert {sh.rotation_id for sh in only_day} == {first} and len(only_day) == 5
    assert only_day[0].channel == ("slack", "C1") and only_day[0].usergroup == "S1"


def test_days_are_read_as_people_write_them():
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("sun-thu") == frozenset({6, 0, 1, 2, 3})
    assert parse_days("Mon,Wed,friday") == frozenset({0, 2, 4})
