"""A refusal is told in the support channel at most once a day, across processes (repos.first_time_in)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from handlers.base import utcnow
from storage import repos

DAY = timedelta(days=1)


def test_once_within_the_period_then_once_more_after_it(any_database):
    now = utcnow()

    def ask(at) -> bool:
        with any_database.transaction() as s:
            return repos.first_time_in(s, "refusal.told:slack:not_in_channel:CPRIVATE", at, DAY)

    assert ask(now) is True
    assert ask(now + timedelta(hours=23)) is False
    assert ask(now + DAY) is True
    assert ask(now + DAY + timedelta(minutes=1)) is False
    with any_database.transaction() as s:  # another key is its own
        assert repos.first_time_in(s, "refusal.told:slack:is_archived:CPRIVATE", now, DAY) is True


def test_of_many_processes_asking_at_once_one_is_first(any_database):
    now = utcnow()

    def ask(_) -> bool:
        with any_database.transaction() as s:
            return repos.first_time_in(s, "refusal.told:teams:HTTP 403:19:general", now, DAY)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert answers.count(True) == 1
