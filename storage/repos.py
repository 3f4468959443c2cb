"""Queries that need care: atomic state changes, the outbox lease, lookups by natural keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import case, delete, exists, func, or_, select, true, update
from sqlalchemy.dialects import postgresql as _pg, sqlite as _sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session

from storage.types import Actor, PersonRef, ThreadRef, utcnow
from storage.models import (Identity, OutboxJob, Person, SavedReply, SavedReplyExample, SavedReplyUse, ScheduledRun,
                            SchedulerLease, Setting, SuggestionChange, SuggestionVersion, Survey, ThreadAnchor, Ticket,
                            TicketMessage)

# ---------------------------------------------------------------- people


def person_for(session: Session, actor: Actor) -> Person:
    """The person behind a platform account, created on first sight."""
    row = session.execute(
        select(Identity).where(
            Identity.platform == actor.platform,
            Identity.tenant == actor.tenant,
            Identity.user_id == actor.user_id,
        )
    ).first()
    if row is not None:
        identity = row[0]
        person = session.get(Person, identity.person_id)
        changed = False
        if actor.name and person.name != actor.name:
            person.name, changed = actor.name, True
        if actor.email and person.email != actor.email.lower():
            person.email, changed = actor.email.lower(), True
        if changed:
            session.add(person)
        return person
    person = None
    if actor.email:
        found = session.execute(select(Person).where(Person.email == actor.email.lower())).first()
        person = found[0] if found else None
    if person is None:
        person = Person(name=actor.name or actor.user_id, email=actor.email.lower() if actor.email else None)
        session.add(person)
        session.flush()
    session.add(Identity(platform=actor.platform, tenant=actor.tenant, user_id=actor.user_id, person_id=person.id))
    session.flush()
    return person


def person_refs(session: Session, person_ids: Iterable[int | None]) -> dict[int, PersonRef]:
    ids = {pid for pid in person_ids if pid is not None}
    if not ids:
        return {}
    people = {p.id: p for (p,) in session.execute(select(Person).where(Person.id.in_(ids))).all()}
    accounts: dict[int, list[tuple[str, str]]] = {}
    for (ident,) in session.execute(select(Identity).where(Identity.person_id.in_(ids))).all():
        accounts.setdefault(ident.person_id, []).append((ident.platform, ident.user_id))
    return {pid: PersonRef(name=p.name, ids=tuple(sorted(accounts.get(pid, [])))) for pid, p in people.items()}


# ---------------------------------------------------------------- tickets: atomic transitions


def _transition(session: Session, ticket_id: int, where, values: dict) -> bool:
    values = {**values, "updated_at": utcnow()}
    result = session.execute(update(Ticket).where(Ticket.id == ticket_id, *where).values(**values))
    return result.rowcount == 1


def try_claim(session: Session, ticket_id: int, person_id: int) -> bool:
    """Exactly one of any number of concurrent callers wins: a conditional UPDATE."""
    return _transition(
        session, ticket_id, (Ticket.claimed_by_id.is_(None), Ticket.status == "open"), {"claimed_by_id": person_id}
    )


def try_unclaim(session: Session, ticket_id: int, person_id: int) -> bool:
    return _transition(session, ticket_id, (Ticket.claimed_by_id == person_id,), {"claimed_by_id": None})


def try_close(session: Session, ticket_id: int, person_id: int, now: datetime | None = None) -> bool:
    return _transition(session, ticket_id, (Ticket.status == "open",),
                       {"status": "closed", "closed_by_id": person_id, "closed_at": now or utcnow()})


def try_reopen(session: Session, ticket_id: int) -> bool:
    return _transition(session, ticket_id, (Ticket.status == "closed",),
                       {"status": "open", "closed_by_id": None, "closed_at": None})


def fresh_ticket(session: Session, ticket_id: int) -> Ticket | None:
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None:
        session.refresh(ticket)
    return ticket


# ---------------------------------------------------------------- messages and threads


def message_by_key(session: Session, external_key: str) -> TicketMessage | None:
    row = session.execute(select(TicketMessage).where(TicketMessage.external_key == external_key)).first()
    return row[0] if row else None


def ticket_for_followup(session: Session, sender_email: str, message_ids: Sequence[str]) -> Ticket | None:
    """The ticket an email answers: one of its messages (theirs or ours) has an id the mail refers
    to, and the sender is that ticket's customer. Never by subject."""
    if not message_ids:
        return None
    row = session.execute(
        select(Ticket)
        .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
        .where(TicketMessage.email_message_id.in_(list(message_ids)), Ticket.customer_email == sender_email)
        .order_by(TicketMessage.id.desc())
    ).first()
    if row is None:
        # an answer to the ticket's survey mail ("How did we do?"), which is no message of the ticket;
        # a mail client may refer to it alone (In-Reply-To without References)
        row = session.execute(
            select(Ticket)
            .join(Survey, Survey.ticket_id == Ticket.id)
            .where(Survey.email_message_id.in_(list(message_ids)), Ticket.customer_email == sender_email)
        ).first()
    return row[0] if row else None


def ticket_for_thread(session: Session, thread: ThreadRef) -> int | None:
    row = session.execute(
        select(ThreadAnchor.ticket_id).where(
            ThreadAnchor.platform == thread.platform,
            ThreadAnchor.tenant == thread.tenant,
            ThreadAnchor.channel == thread.channel,
            ThreadAnchor.thread_id == thread.thread_id,
        )
    ).first()
    return row[0] if row else None


def anchor_for(session: Session, ticket_id: int, platform: str) -> ThreadAnchor | None:
    row = session.execute(
        select(ThreadAnchor).where(ThreadAnchor.ticket_id == ticket_id, ThreadAnchor.platform == platform)
    ).first()
    return row[0] if row else None


def first_customer_message(session: Session, ticket_id: int) -> TicketMessage | None:
    row = session.execute(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.kind == "customer")
        .order_by(TicketMessage.id)
        .limit(1)
    ).first()
    return row[0] if row else None


def conversation(session: Session, ticket_id: int) -> list[TicketMessage]:
    return [
        m
        for (m,) in session.execute(
            select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
        ).all()
    ]


# ---------------------------------------------------------------- the outbox


def enqueue(
    session: Session,
    kind: str,
    payload: dict,
    ordering_key: str | None = None,
    run_after: datetime | None = None,
    flush: bool = True,
) -> OutboxJob:
    """Queue a job in the caller's transaction. ``flush=False`` when its id is not needed now
    (the commit writes it): one round trip less on the hot intake path."""
    job = OutboxJob(kind=kind, payload=payload, ordering_key=ordering_key, run_after=run_after or utcnow())
    session.add(job)
    if flush:
        session.flush()
    return job


def job_platform():
    """The chat platform a job is for (its payload's "platform"), NULL for a platform-free job (a
    reply to a customer, a private message not yet addressed to a platform)."""
    return OutboxJob.payload["platform"].as_string()


def lease_jobs(session: Session, owner: str, limit: int, lease_seconds: float, now: datetime | None = None,
               platforms: Iterable[str] | None = None) -> list[OutboxJob]:
    """Take up to ``limit`` due jobs for ``owner``. A job waits while an older job with the same
    ordering key is still pending. On PostgreSQL, FOR UPDATE SKIP LOCKED lets many workers lease at
    once without blocking each other; on SQLite the write lock serialises leases. With ``platforms``
    (those the worker serves), jobs for any other chat platform are left for a process serving it:
    a console and a server on one database each take their own, and both take platform-free ones."""
    now = now or utcnow()
    earlier = aliased(OutboxJob)
    blocked = exists().where(
        earlier.ordering_key == OutboxJob.ordering_key,
        earlier.id < OutboxJob.id,
        earlier.state == "pending",
    )
    query = (
        select(OutboxJob.id)
        .where(
            OutboxJob.state == "pending",
            OutboxJob.run_after <= now,
            or_(OutboxJob.leased_until.is_(None), OutboxJob.leased_until < now),
            or_(OutboxJob.ordering_key.is_(None), ~blocked),
            true() if platforms is None else or_(job_platform().is_(None), job_platform().in_(list(platforms))),
        )
        .order_by(OutboxJob.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxJob)
    ids = [row[0] for row in session.execute(query).all()]
    if not ids:
        return []
    session.execute(
        update(OutboxJob)
        .where(OutboxJob.id.in_(ids))
        .values(leased_until=now + timedelta(seconds=lease_seconds), lease_owner=owner, attempts=OutboxJob.attempts + 1)
    )
    return [j for (j,) in session.execute(select(OutboxJob).where(OutboxJob.id.in_(ids)).order_by(OutboxJob.id)).all()]


def extend_leases(session: Session, job_ids: list[int], owner: str, lease_seconds: float, now: datetime) -> int:
    result = session.execute(
        update(OutboxJob)
        .where(OutboxJob.id.in_(job_ids), OutboxJob.lease_owner == owner, OutboxJob.state == "pending")
        .values(leased_until=now + timedelta(seconds=lease_seconds))
    )
    return result.rowcount


def finish_job(session: Session, job_id: int, owner: str) -> bool:
    result = session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.lease_owner == owner, OutboxJob.state == "pending")
        .values(state="done", done_at=utcnow(), leased_until=None, last_error=None)
    )
    return result.rowcount == 1


def retry_job(session: Session, job_id: int, owner: str, error: str, delay_seconds: float,
              now: datetime | None = None) -> bool:
    now = now or utcnow()
    result = session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.lease_owner == owner, OutboxJob.state == "pending")
        .values(leased_until=None, last_error=error[:2000], run_after=now + timedelta(seconds=delay_seconds))
    )
    return result.rowcount == 1


def fail_job(session: Session, job_id: int, owner: str, error: str) -> bool:
    result = session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.lease_owner == owner, OutboxJob.state == "pending")
        .values(state="failed", done_at=utcnow(), leased_until=None, last_error=error[:2000])
    )
    return result.rowcount == 1


def readdress_job(session: Session, job_id: int, owner: str, platform: str) -> bool:
    """Hand a platform-free job this worker leased over to the workers serving ``platform`` (at once)."""
    job = session.get(OutboxJob, job_id)
    if job is None or job.lease_owner != owner or job.state != "pending":
        return False
    job.payload = {**job.payload, "platform": platform}
    job.leased_until, job.lease_owner = None, None  # None: this worker's lease heartbeat leaves it alone
    session.add(job)
    return True


def cancel_job(session: Session, job_id: int, now: datetime | None = None) -> bool:
    """Cancel a job nobody is working on right now; False when it is under way or finished."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.id == job_id,
            OutboxJob.state == "pending",
            or_(OutboxJob.leased_until.is_(None), OutboxJob.leased_until < now),
        )
        .values(state="cancelled", done_at=now)
    )
    return result.rowcount == 1


def pending_jobs(session: Session) -> int:
    return session.execute(select(func.count()).select_from(OutboxJob).where(OutboxJob.state == "pending")).scalar_one()





# ---------------------------------------------------------------- floods


def tickets_opened_since(session: Session, customer_email: str, since: datetime) -> int:
    return session.execute(
        select(func.count()).select_from(Ticket).where(Ticket.customer_email == customer_email, Ticket.created_at > since)
    ).scalar_one()


def latest_ticket_of(session: Session, customer_email: str) -> Ticket | None:
    """The customer's newest open ticket, or their newest one when none is open."""
    row = session.execute(
        select(Ticket)
        .where(Ticket.customer_email == customer_email)
        .order_by((Ticket.status == "open").desc(), Ticket.id.desc())
        .limit(1)
    ).first()
    return row[0] if row else None


def last_job_if_waiting(session: Session, ordering_key: str) -> OutboxJob | None:
    """The newest job with this ordering key when it is pending and no worker has taken it yet, so
    that the caller may still change it; locked on PostgreSQL, where a worker's lease would
    otherwise race the change (its SKIP LOCKED passes over the row meanwhile)."""
    query = (select(OutboxJob).where(OutboxJob.ordering_key == ordering_key).order_by(OutboxJob.id.desc()).limit(1)
             .execution_options(populate_existing=True))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None or row[0].state != "pending" or row[0].leased_until is not None:
        return None
    return row[0]


# ---------------------------------------------------------------- the outbox: what is left and old


def pending_job_of_kind(session: Session, ordering_key: str, kind: str) -> bool:
    return session.execute(
        select(OutboxJob.id).where(OutboxJob.ordering_key == ordering_key, OutboxJob.kind == kind,
                                   OutboxJob.state == "pending").limit(1)
    ).first() is not None


FINISHED = ("done", "failed", "cancelled")


def prune_finished_jobs(session: Session, finished_before: datetime, limit: int = 5000) -> int:
    """Delete up to ``limit`` jobs that finished (done, failed, cancelled) before ``finished_before``;
    pending jobs are never touched. Returns how many went: call again while it returns ``limit``
    (small batches keep each transaction, and the locks it holds, short)."""
    old = (select(OutboxJob.id)
           .where(OutboxJob.state.in_(FINISHED), OutboxJob.done_at < finished_before)
           .limit(limit))
    gone = delete(OutboxJob).where(OutboxJob.id.in_(old.scalar_subquery()))
    return session.execute(gone, execution_options={"synchronize_session": False}).rowcount


# ---------------------------------------------------------------- the scheduler: its leader, its runs

def _insert_unless_present(session: Session, model, keys: list[str], **values) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: True when the row is new. On PostgreSQL an insert racing an
    uncommitted one with the same key waits for it, then inserts only if that one rolled back."""
    statement = insert_for(session, model).values(**values).on_conflict_do_nothing(index_elements=keys)
    # RETURNING says whether a row went in (an ORM session reports no rowcount for an INSERT)
    return session.execute(statement.returning(getattr(model, keys[0]))).first() is not None


def database_now(session: Session) -> datetime:
    """The database's clock on PostgreSQL, so that processes on hosts whose clocks differ agree on
    when a lease runs out; SQLite lives on this host, whose clock it is."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(select(func.now())).scalar_one()
    return utcnow()


def take_lease(session: Session, name: str, owner: str, seconds: float) -> bool:
    """Take the lease ``name`` for ``seconds`` from now, or renew it: True when ``owner`` holds it.
    A lease held by another owner is taken only once it has run out. One conditional UPDATE, so of
    several stand-bys finding it run out exactly one gets it (PostgreSQL re-checks the WHERE of a
    row another transaction changed meanwhile; SQLite has one writer at a time)."""
    now = database_now(session)
    expires = now + timedelta(seconds=seconds)
    result = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, or_(SchedulerLease.owner == owner, SchedulerLease.expires_at <= now))
        .values(owner=owner, expires_at=expires,
                acquired_at=case((SchedulerLease.owner == owner, SchedulerLease.acquired_at), else_=now))
    )
    if result.rowcount == 1:
        return True
    return _insert_unless_present(session, SchedulerLease, ["name"], name=name, owner=owner, expires_at=expires,
                                  acquired_at=now)


def release_lease(session: Session, name: str, owner: str) -> bool:
    """Give the lease up now (a clean shutdown), so that a stand-by need not wait for it to run out."""
    result = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.owner == owner)
        .values(expires_at=database_now(session))
    )
    return result.rowcount == 1


def claim_run(session: Session, job: str, period_key: str, owner: str) -> bool:
    """Record that ``job`` runs for ``period_key``, in the caller's transaction: False when that
    period has run (or is running in a transaction that commits), so the caller skips it."""
    return _insert_unless_present(session, ScheduledRun, ["job", "period_key"], job=job, period_key=period_key,
                                  owner=owner, started_at=utcnow())


def first_time_in(session: Session, key: str, now: datetime, period: timedelta) -> bool:
    """True when ``key`` was not marked within ``period`` before ``now``, and marks it, in the
    caller's transaction (a Setting row): of several processes asking at once, one gets True."""
    if _insert_unless_present(session, Setting, ["key"], key=key, value={}, updated_at=now):
        return True
    result = session.execute(update(Setting).where(Setting.key == key, Setting.updated_at <= now - period)
                             .values(updated_at=now))
    return result.rowcount == 1


def finish_run(session: Session, job: str, period_key: str) -> None:
    session.execute(
        update(ScheduledRun)
        .where(ScheduledRun.job == job, ScheduledRun.period_key == period_key)
        .values(finished_at=utcnow())
    )


def prune_runs(session: Session, before: datetime) -> int:
    """Forget runs started before ``before``: no job looks back that far for a missed period."""
    result = session.execute(delete(ScheduledRun).where(ScheduledRun.started_at < before))
    return result.rowcount


# ---------------------------------------------------------------- suggestion versions


def insert_for(session: Session, table):
    """An INSERT that can say ON CONFLICT (PostgreSQL's and SQLite's have the same words)."""
    dialect = _pg if session.get_bind().dialect.name == "postgresql" else _sqlite
    return dialect.insert(table)


def suggestions_changed(session: Session, card_ids: Iterable[int]) -> int:
    """Number this transaction's change to ``card_ids`` (a card, its status or merge, its requests,
    its removal) with the next suggestion version, and return it; call it last in the transaction.

    The version row stays locked until this transaction ends (PostgreSQL), so a second writer waits
    here and takes the next number only once this one has committed: versions follow commit order,
    and a reader that sees version v sees every change numbered v or lower. Taken after the
    transaction's other row locks, and the only lock taken after it is on ``suggestion_change``
    (written by its holder alone), it cannot close a cycle of waits."""
    upsert = insert_for(session, SuggestionVersion).values(id=1, version=1)
    version = session.execute(upsert.on_conflict_do_update(
        index_elements=[SuggestionVersion.id], set_={"version": SuggestionVersion.version + 1})
        .returning(SuggestionVersion.version)).scalar_one()
    rows = [{"card_id": card_id, "version": version} for card_id in sorted(set(card_ids))]
    if rows:
        stamp = insert_for(session, SuggestionChange)
        session.execute(stamp.on_conflict_do_update(index_elements=[SuggestionChange.card_id],
                                                    set_={"version": stamp.excluded.version}), rows)
    return version


def suggestion_version(session: Session) -> int:
    """The version of the suggestion data this transaction sees (0: never changed)."""
    return session.execute(select(SuggestionVersion.version).where(SuggestionVersion.id == 1)).scalar() or 0


def suggestion_cards_changed_since(session: Session, version: int) -> list[int]:
    """The cards changed after ``version``, removed ones included."""
    return list(session.execute(select(SuggestionChange.card_id).where(SuggestionChange.version > version))
                .scalars())


def withdraw_saved_use(session: Session, reply_id: int) -> None:
    """A reply sent from a saved reply was taken back before it went: the saved reply's use goes, and
    so does the example it made, unless another use still made the same one."""
    use = session.get(SavedReplyUse, reply_id)
    if use is None:
        return
    saved = session.get(SavedReply, use.saved_reply_id)
    if saved is not None:
        saved.uses = max(0, saved.uses - 1)
        session.add(saved)
    example = use.example_message_id
    session.delete(use)
    session.flush()
    if example is not None and session.execute(select(SavedReplyUse.reply_id).where(
            SavedReplyUse.saved_reply_id == use.saved_reply_id,
            SavedReplyUse.example_message_id == example).limit(1)).first() is None:
        session.execute(delete(SavedReplyExample).where(SavedReplyExample.saved_reply_id == use.saved_reply_id,
                                                        SavedReplyExample.ticket_message_id == example))
