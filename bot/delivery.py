"""The outbox worker: posts to chat and delivers replies to customers, with retries.

Jobs are leased (many workers may run: SKIP LOCKED on PostgreSQL), done, then marked done. A crash
between doing and marking means the job runs again after its lease expires; customer mail keeps its
Message-ID across such a repeat, so a mail client shows one message.

A job ends undone, and says so (outbound.job_ended), when the other side refuses it for good
(DeliveryError(permanent=True): a deleted message, an archived channel) or when it has kept failing
for outbound.RETRY_FOR; the jobs queued behind it then go on. Finished jobs are deleted after
outbound.KEEP_FINISHED, checked at most once an hour by each worker.

A refusal an admin must mend (bot.refusals.Refused: Slack's not_in_channel, invalid_auth,
missing_scope …, Teams' 401/403/404) ends the job too, and is explained once rather than once per
job: its advice is logged once per process per (platform, error, channel), and posted in the
platform's support channel where a post can get through, at most once every TELL_AGAIN_AFTER per
key across processes and restarts (recorded in the database in the transaction that ends the job).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from datetime import timedelta
from typing import Awaitable, Callable

from bot.refusals import Refusal
from handlers import outbound, survey_send
from handlers.base import ChatPort, CustomerChannel, DeliveryError, DeliveryMark, MessageRef
from handlers.card_json import card_from_json
from handlers.context import Context
from storage import repos
from storage.models import OutboxJob

log = logging.getLogger("pitchin.delivery")

MAX_BACKOFF = 300.0
PRUNE_EVERY = 3600.0  # seconds between two looks for finished jobs to delete
# a refusal still there a day later is said again in the support channel: the first post may have
# scrolled by, and a daily line is not noise
TELL_AGAIN_AFTER = timedelta(days=1)

def _message_ref(p: dict) -> MessageRef:
    return MessageRef(p["platform"], p.get("tenant", ""), p["channel"], p["message_id"], p.get("thread_id"))


def backoff(attempt: int) -> float:
    """2, 4, 8 … seconds, capped at five minutes, with jitter so retries spread out."""
    return min(MAX_BACKOFF, 2.0 ** max(1, attempt)) * random.uniform(0.8, 1.2)


class _HandedOver(Exception):
    """The job was given to other workers (repos.readdress_job): neither done nor failed here."""


class RetryLater(Exception):
    def __init__(self, message: str, delay: float | None = None):
        super().__init__(message)
        self.delay = delay


class DeliveryWorker:
    def __init__(
        self,
        ctx: Context,
        chats: dict[str, ChatPort],
        customers: CustomerChannel | None,
        batch: int = 64,
        lease_seconds: float = 15.0,
        idle_poll: float = 1.0,
    ):
        self.ctx = ctx
        self.chats = chats
        self.customers = customers
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.idle_poll = idle_poll
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: set[int] = set()
        self._next_prune = 0.0  # time.monotonic() of the next look for old jobs: at once, then hourly
        self._explained: set[str] = set()  # Refusal.key of each refusal whose advice this process logged
        self.handlers: dict[str, Callable[[OutboxJob], Awaitable[None]]] = {
            outbound.CHAT_POST_TICKET: self._post_ticket,
            outbound.CHAT_UPDATE_TICKET: self._update_ticket,
            outbound.CHAT_CUSTOMER_MESSAGE: self._customer_message,
            outbound.CHAT_NOTICE: self._notice,
            outbound.CHAT_MARK_DELIVERY: self._mark_delivery,
            outbound.CUSTOMER_REPLY: self._customer_reply,
            outbound.CUSTOMER_SUGGESTION: self._customer_suggestion,
            survey_send.SURVEY_JOB: self._customer_survey,
            outbound.CHAT_DIRECT: self._direct,
            outbound.CHAT_POST: self._post,
            outbound.CHAT_USERGROUP: self._usergroup,
        }

    # ------------------------------------------------------------ running

    def wake(self) -> None:
        """Called from any thread when new work was queued."""
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        log.info("delivery worker %s started", self.owner)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await self._loop_jobs()
        finally:
            heartbeat.cancel()

    async def _heartbeat(self) -> None:
        """Keep the leases of jobs under way fresh. Leases are short so that the jobs of a process
        that died (SIGKILL, power loss) are picked up by the next worker within seconds."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if self._in_flight:
                try:
                    await self._db(repos.extend_leases, list(self._in_flight), self.owner, self.lease_seconds, self.ctx.now())
                except Exception:
                    log.exception("delivery worker: could not extend leases")

    async def _loop_jobs(self) -> None:
        while not self._stopping:
            await self.prune_now_and_then()
            try:
                worked = await self.run_once()
            except Exception:  # the database went away for a moment: keep the worker alive
                log.exception("delivery worker: leasing failed; trying again shortly")
                worked = 0
            if worked:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll)
            except asyncio.TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    async def prune_now_and_then(self) -> int:
        """Delete jobs finished more than KEEP_FINISHED ago, at most once every PRUNE_EVERY seconds."""
        if time.monotonic() < self._next_prune:
            return 0
        self._next_prune = time.monotonic() + PRUNE_EVERY
        before, pruned, batch = self.ctx.now() - outbound.KEEP_FINISHED, 0, 5000
        try:
            while True:
                gone = await self._db(repos.prune_finished_jobs, before, batch)
                pruned += gone
                if gone < batch:
                    break
        except Exception:  # the database went away for a moment: the next look is in an hour
            log.exception("delivery worker: could not delete old finished jobs")
        if pruned:
            log.info("deleted %d outbox jobs finished before %s", pruned, before.isoformat(timespec="seconds"))
        return pruned

    async def run_once(self) -> int:
        jobs = await self.ctx.db.run(self._lease)
        if jobs:
            await asyncio.gather(*(self._run_job(job) for job in jobs))
        return len(jobs)

    def _lease(self) -> list[OutboxJob]:
        with self.ctx.db.transaction() as session:
            # only jobs for the platforms this process serves (and platform-free ones): a console and
            # a server on one database must not take, or retry every minute, each other's posts
            return repos.lease_jobs(session, self.owner, self.batch, self.lease_seconds, self.ctx.now(),
                                    platforms=tuple(self.chats))

    async def _run_job(self, job: OutboxJob) -> None:
        self._in_flight.add(job.id)
        try:
            await self._run_job_leased(job)
        finally:
            self._in_flight.discard(job.id)

    async def _run_job_leased(self, job: OutboxJob) -> None:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise DeliveryError(f"unknown job kind {job.kind!r}", permanent=True)
            after = await handler(job)  # a job may hand back DB work to do as it is marked done
        except DeliveryError as exc:
            await self._undone(job, str(exc), exc.retry_after, exc.permanent, getattr(exc, "refusal", None))
            return
        except RetryLater as exc:
            await self._undone(job, str(exc), exc.delay, False)
            return
        except _HandedOver:
            return
        except Exception as exc:  # a bug or an unexpected outage: keep the job, say so, try again later
            log.exception("job %s (%s) raised", job.id, job.kind)
            await self._undone(job, f"{type(exc).__name__}: {exc}", None, False)
            return
        await self._db(self._finish, job.id, after)

    def _timed_out(self, job: OutboxJob) -> bool:
        return self.ctx.now() - job.created_at >= outbound.RETRY_FOR

    async def _undone(self, job: OutboxJob, error: str, delay: float | None, permanent: bool,
                      refusal: Refusal | None = None) -> None:
        """Retry later, or end the job (refused for good, or failing for too long) and say so."""
        if not permanent and not self._timed_out(job):
            await self._retry(job, error, delay)
            return
        gave_up = not permanent
        recorded = f"gave up after {outbound.RETRY_FOR_WORDS}: {error}" if gave_up else error
        # the key says which ticket, channel or person; the payload (customer words) stays out of the log
        log.error("job %s (%s, %s) ended undone: %s", job.id, job.kind, job.ordering_key, recorded)
        if refusal is not None and refusal.key not in self._explained:
            self._explained.add(refusal.key)
            log.error("%s refused Pitchin (%s): %s (said once; later jobs refused alike end without it)",
                      refusal.platform.capitalize(), refusal.error, refusal.advice)
        await self._db(self._end, job, error, recorded, gave_up, refusal)

    def _end(self, session, job: OutboxJob, error: str, recorded: str, gave_up: bool,
             refusal: Refusal | None = None) -> None:
        if not repos.fail_job(session, job.id, self.owner, recorded):  # another worker has it now
            return
        # when the support channel (or the whole platform) is closed to Pitchin, a notice in a
        # ticket's thread there could only fail in turn
        reachable = refusal is None or refusal.tell_in is not None
        outbound.job_ended(self.ctx, session, job.kind, job.payload, error, gave_up, same_platform=reachable)
        if refusal is not None and refusal.tell_in is not None and repos.first_time_in(
                session, f"refusal.told:{refusal.key}", self.ctx.now(), TELL_AGAIN_AFTER):
            outbound.post_to_channel(self.ctx, session, refusal.platform, refusal.tell_in, refusal.notice())

    def _finish(self, session, job_id: int, after) -> None:
        if after is not None:
            after(session)
        repos.finish_job(session, job_id, self.owner)

    async def _retry(self, job: OutboxJob, error: str, delay: float | None) -> None:
        wait = delay if delay is not None else backoff(job.attempts)
        log.warning("job %s (%s) attempt %s failed: %s; retrying in %.1f s", job.id, job.kind, job.attempts, error, wait)
        await self._db(repos.retry_job, job.id, self.owner, error, wait, self.ctx.now())

    async def _db(self, fn, *args):
        def work():
            with self.ctx.db.transaction() as session:
                return fn(session, *args)

        return await self.ctx.db.run(work)

    def _chat(self, job: OutboxJob) -> ChatPort:
        port = self.chats.get(job.payload["platform"])
        if port is None:
            raise RetryLater(f"{job.payload['platform']} is not configured in this process", delay=60)
        return port

    async def _thread(self, job: OutboxJob):
        ticket_id, platform = job.payload["ticket_id"], job.payload["platform"]
        thread = await self.ctx.db.run(outbound.thread_of, self.ctx, ticket_id, platform)
        if thread is None:
            if await self.ctx.db.run(outbound.ticket_post_pending, self.ctx, ticket_id, platform):
                raise RetryLater("the ticket has not been posted yet", delay=5)
            # its root post ended undone (or was never queued here): waiting cannot bring a thread
            raise DeliveryError(f"the ticket was never posted on {platform}", permanent=True)
        return thread

    # ------------------------------------------------------------ job kinds

    async def _post_ticket(self, job: OutboxJob) -> None:
        ticket_id, platform = job.payload["ticket_id"], job.payload["platform"]
        port = self._chat(job)
        posted, card = await self.ctx.db.run(outbound.ticket_to_post, self.ctx, ticket_id, platform)
        if posted is not None or card is None:
            return None  # posted before a crash (do not post twice), or the ticket is gone
        thread = await port.post_ticket(card)
        # the anchor is stored in the same transaction that marks this job done
        return lambda session: outbound.anchor_in(session, ticket_id, thread, full_text=card.body_truncated)

    async def _update_ticket(self, job: OutboxJob) -> None:
        port = self._chat(job)
        thread = await self._thread(job)
        card = await self.ctx.db.run(outbound.card_for, self.ctx, job.payload["ticket_id"])
        await port.update_ticket(thread, card)

    async def _customer_message(self, job: OutboxJob) -> None:
        port = self._chat(job)
        thread = await self._thread(job)
        text = await self.ctx.db.run(outbound.full_text, self.ctx, job.payload["ticket_id"], job.payload["message_id"])
        head = "📨 The customer wrote again (the ticket is open again):" if job.payload.get("reopened") else \
            "📨 The customer wrote:"
        await port.post_in_thread(thread, f"{head}\n{text}")

    async def _notice(self, job: OutboxJob) -> None:
        port = self._chat(job)
        thread = await self._thread(job)
        await port.post_in_thread(thread, job.payload["text"], _card(job.payload))

    async def _mark_delivery(self, job: OutboxJob) -> None:
        p = job.payload
        receipt = p.get("receipt")
        mark = DeliveryMark(
            message=_message_ref(p),
            state=p["state"],
            text=p.get("text", ""),
            receipt=_message_ref(receipt) if receipt else None,
        )
        await self._chat(job).mark_delivery(mark)

    async def _customer_reply(self, job: OutboxJob) -> None:
        reply_id = job.payload["reply_id"]
        outgoing = await self.ctx.db.run(outbound.outgoing_reply, self.ctx, reply_id)
        if outgoing is None:
            return  # taken back, or already sent before a crash
        if self.customers is None:
            raise RetryLater("no way to reach customers is configured (SMTP_URL)", delay=60)
        had_failed = job.attempts > 1
        try:
            where = await self.customers.send(outgoing)
        except DeliveryError as exc:
            timed_out = not exc.permanent and self._timed_out(job)
            await self.ctx.db.run(outbound.reply_failed, self.ctx, reply_id, str(exc), job.attempts == 1,
                                  exc.permanent or timed_out, timed_out)
            raise
        log.info("reply %s of ticket %s delivered: %s", reply_id, outgoing.ticket_id, where)
        await self.ctx.db.run(outbound.reply_delivered, self.ctx, reply_id, had_failed)

    async def _customer_suggestion(self, job: OutboxJob) -> None:
        notice = await self.ctx.db.run(outbound.suggestion_notice, self.ctx, job.payload)
        if notice is None:
            return  # the card is gone
        if self.customers is None:
            raise RetryLater("no way to reach customers is configured (SMTP_URL)", delay=60)
        where = await self.customers.send(notice)
        log.info("suggestion %s: told %s (%s)", job.payload["card_id"], notice.to_email, where)

    async def _customer_survey(self, job: OutboxJob):
        """A satisfaction survey (handlers.survey_send), written now: a ticket reopened since it was
        queued gets none. Its sending is recorded with the job's end."""
        survey_id = job.payload["survey_id"]
        if self.customers is None:
            raise RetryLater("no way to reach customers is configured (SMTP_URL)", delay=60)
        outgoing = await self.ctx.db.run(survey_send.outgoing_survey, self.ctx, survey_id, job.payload["token"])
        if outgoing is None:
            return None  # withdrawn, gone, or sent before a crash
        where = await self.customers.send(outgoing)
        log.info("survey %s of ticket %s sent: %s", survey_id, outgoing.ticket_id, where)
        return lambda session: survey_send.mark_sent(session, survey_id, self.ctx.now())

    async def _direct(self, job: OutboxJob) -> None:
        """A private message to a colleague, on the first platform where Pitchin can reach them.
        When none of their platforms is served here, the job is handed to the processes that serve
        the first of them (another process on this database, or the next start of one)."""
        targets = await self.ctx.db.run(outbound.direct_targets, self.ctx, job.payload["person_id"])
        for platform, tenant, user_id in targets:
            port = self.chats.get(platform)
            if port is not None:
                await port.direct(tenant, user_id, job.payload["text"], _card(job.payload))
                return
        if targets and "platform" not in job.payload:
            platform = targets[0][0]
            if await self._db(repos.readdress_job, job.id, self.owner, platform):
                log.info("person %s is reached on %s, not served here: job %s left to it", job.payload["person_id"],
                         platform, job.id)
                raise _HandedOver()
        log.info("no platform can reach person %s directly; skipped: %s", job.payload["person_id"], job.payload["text"])

    async def _post(self, job: OutboxJob) -> None:
        """A post in a channel of one platform (outbound.post_to_channel)."""
        p = job.payload
        await self._chat(job).post_to_channel(p["channel"], p.get("text", ""), _card(p))

    async def _usergroup(self, job: OutboxJob) -> None:
        """A user group's members set (outbound.set_usergroup), on a platform that has user groups."""
        p = job.payload
        port = self._chat(job)
        set_members = getattr(port, "set_usergroup", None)
        if set_members is None:
            log.info("%s has no user groups; skipped setting %s", p["platform"], p["usergroup"])
            return
        users = []
        for person_id in p["person_ids"]:
            targets = await self.ctx.db.run(outbound.direct_targets, self.ctx, person_id)
            users += [user_id for platform, _tenant, user_id in targets if platform == p["platform"]]
        if not users:  # Slack refuses a group without members: it keeps the last ones
            log.info("nobody on duty has an account on %s; %s stays as it is", p["platform"], p["usergroup"])
            return
        await set_members(p["usergroup"], users)


def _card(payload: dict):
    return card_from_json(payload["card"]) if payload.get("card") else None
