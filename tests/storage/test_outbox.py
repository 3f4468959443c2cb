"""The outbox: jobs are leased once, in order per key, and a cancelled job never runs."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update

from handlers.base import utcnow
from storage import repos
from storage.models import OutboxJob


def _fill(db, n_keys=20, per_key=5):
    with db.transaction() as s:
        for k in range(n_keys):
            for i in range(per_key):
                repos.enqueue(s, "test", {"k": k, "i": i}, ordering_key=f"key-{k}")


def test_concurrent_workers_never_share_a_job_and_keep_order(any_database):
    _fill(any_database)
    seen: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def worker(name: str):
        while True:
            with any_database.transaction() as s:
                jobs = repos.lease_jobs(s, name, limit=7, lease_seconds=60)
            if not jobs:
                with any_database.transaction() as s:
                    if repos.pending_jobs(s) == 0:
                        return
                continue
            for job in jobs:
                with lock:
                    seen.append((name, job.payload["k"], job.payload["i"]))
                with any_database.transaction() as s:
                    assert repos.finish_job(s, job.id, name)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, ["w1", "w2", "w3", "w4"]))

    assert len(seen) == 100 and len({(k, i) for _, k, i in seen}) == 100  # each job exactly once
    for k in range(20):
        assert [i for _, kk, i in seen if kk == k] == [0, 1, 2, 3, 4]  # in order within a key


def test_job_waits_for_its_time_and_for_earlier_jobs_of_its_key(any_database):
    now = utcnow()
    with any_database.transaction() as s:
        later = repos.enqueue(s, "reply", {}, ordering_key="t1", run_after=now + timedelta(seconds=10))
        behind = repos.enqueue(s, "reply", {}, ordering_key="t1", run_after=now)
        free = repos.enqueue(s, "post", {}, ordering_key="t2", run_after=now)
    with any_database.transaction() as s:
        assert [j.id for j in repos.lease_jobs(s, "w", 10, 60, now)] == [free.id]
    with any_database.transaction() as s:
        assert repos.cancel_job(s, later.id, now)
    with any_database.transaction() as s:
        assert [j.id for j in repos.lease_jobs(s, "w", 10, 60, now)] == [behind.id]


def test_a_leased_job_cannot_be_cancelled_and_an_expired_lease_is_taken_again(any_database):
    now = utcnow()
    with any_database.transaction() as s:
        job = repos.enqueue(s, "reply", {}, run_after=now)
    with any_database.transaction() as s:
        assert len(repos.lease_jobs(s, "dead-worker", 10, 30, now)) == 1
    with any_database.transaction() as s:
        assert not repos.cancel_job(s, job.id, now)  # under way: too late to take back
        assert repos.lease_jobs(s, "w2", 10, 30, now) == []
    with any_database.transaction() as s:
        (again,) = repos.lease_jobs(s, "w2", 10, 30, now + timedelta(seconds=31))
    assert again.id == job.id and again.attempts == 2
    with any_database.transaction() as s:
        assert not repos.finish_job(s, job.id, "dead-worker")  # the old owner lost it
        assert repos.finish_job(s, job.id, "w2")


def test_pruning_deletes_only_jobs_finished_before_the_cutoff(any_database):
    now = utcnow()
    with any_database.transaction() as s:
        old = {state: repos.enqueue(s, "post", {"state": state}, run_after=now) for state in ("done", "failed", "cancelled")}
        recent = repos.enqueue(s, "post", {"state": "recent"}, run_after=now)
        waiting = repos.enqueue(s, "post", {"state": "pending"}, run_after=now)
    with any_database.transaction() as s:
        for job in [*old.values(), recent]:
            assert len(repos.lease_jobs(s, "w", 1, 60, now)) == 1
        repos.finish_job(s, old["done"].id, "w")
        repos.fail_job(s, old["failed"].id, "w", "channel_not_found")
        repos.finish_job(s, recent.id, "w")
        s.execute(update(OutboxJob).where(OutboxJob.id == old["cancelled"].id).values(state="cancelled"))
        ago = now - timedelta(days=31)
        s.execute(update(OutboxJob).where(OutboxJob.id.in_([j.id for j in old.values()])).values(done_at=ago))
        s.execute(update(OutboxJob).where(OutboxJob.id == waiting.id).values(created_at=ago))  # old but not done
    with any_database.transaction() as s:
        assert repos.prune_finished_jobs(s, now - timedelta(days=30), limit=2) == 2  # in batches
    with any_database.transaction() as s:
        assert repos.prune_finished_jobs(s, now - timedelta(days=30), limit=2) == 1
        assert repos.prune_finished_jobs(s, now - timedelta(days=30), limit=2) == 0
        left = {j.payload["state"]: j.state for (j,) in s.execute(select(OutboxJob)).all()}
    assert left == {"recent": "done", "pending": "pending"}
