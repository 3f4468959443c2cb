"""Leaving the console while replies wait in their undo window, and noticing a server on the same database.

Quitting used to say only "Bye.": a reply typed a few seconds before went out at the next start
of any Pitchin process, perhaps days later. Now the person is asked what to do with it.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from bot.console.chat import PLATFORM, thread_text
from bot.lease import SCHEDULER
from handlers import pending_replies
from handlers.pending_replies import Outcome, Waiting
from storage import repos
from storage.models import OutboxJob, SchedulerLease
from storage.types import utcnow

SEND_WAIT = 30.0  # seconds "send it now" waits for delivery before leaving the rest queued
ANSWERS = {"y": "send", "yes": "send", "k": "keep", "keep": "keep", "c": "cancel", "cancel": "cancel"}


def _addresses(waiting: list[Waiting]) -> str:
    emails = list(dict.fromkeys(w.email for w in waiting))
    return emails[0] if len(emails) == 1 else ", ".join(emails[:-1]) + " and " + emails[-1]


def question(waiting: list[Waiting]) -> str:
    """"1 reply is waiting to go to carol@example.com: send it now (y), keep it for the next start (k),
    or cancel it (c)?" """
    one = len(waiting) == 1
    it = "it" if one else "them"
    head = "1 reply is" if one else f"{len(waiting)} replies are"
    return (f"{head} waiting to go to {_addresses(waiting)}: send {it} now (y), keep {it} for the next start (k), "
            f"or cancel {it} (c)?")


def kept_words(waiting: list[Waiting], server: str | None) -> str:
    what = f"the reply to {_addresses(waiting)}" if len(waiting) == 1 else \
        f"the {len(waiting)} replies to {_addresses(waiting)}"
    if server:
        return f"Kept: the Pitchin server using this database ({server}) sends {what} when its undo window ends."
    goes = "goes" if len(waiting) == 1 else "go"
    return (f"Kept: {what} {goes} out at the next start of Pitchin on this database "
            "(pitchin console, serve or worker).")


def other_process(db, own_worker: str) -> str | None:
    """A Pitchin server or worker using this database, in words (None: none seen). Seen by the
    scheduler lease it holds (`serve`, `worker`) or by an outbox job its delivery worker has leased
    right now (`serve --no-scheduler`)."""
    with db.transaction(read_only=True) as session:
        leader = session.execute(select(SchedulerLease.owner).where(
            SchedulerLease.name == SCHEDULER, SchedulerLease.expires_at > repos.database_now(session))).scalar()
        if leader:
            return f"process {_process(leader)}"
        worker = session.execute(select(OutboxJob.lease_owner).where(
            OutboxJob.state == "pending", OutboxJob.leased_until > utcnow(),
            OutboxJob.lease_owner != own_worker).limit(1)).scalar()
        return f"process {_process(worker)}" if worker else None


def _process(owner: str) -> str:
    """"host:pid:token" → "pid 123 on host"."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return f"{pid} on {host}" if pid.isdigit() else owner


def sharing_warning(server: str) -> str:
    return (f"⚠️  A Pitchin server is using this database too ({server}). Tickets shown here are not posted "
            "on its Slack or Teams, and its tickets do not show here; replies to customers go out from "
            "whichever process takes them first. Use a database of its own for trying Pitchin out.")


class Leaving:
    """The quit question, asked through the REPL (``repl.ask``) while the delivery worker still runs."""

    def __init__(self, console):
        self.console = console
        self.ctx = console.ctx
        self.repl = console.repl
        self.say = console.chat.write

    async def __call__(self) -> None:
        waiting = await self.ctx.run(pending_replies.waiting, self.ctx, PLATFORM)
        if not waiting:
            return
        choice = await self._choose(waiting)
        waiting = await self.ctx.run(pending_replies.waiting, self.ctx, PLATFORM)  # the window may have ended
        if choice == "send":
            await self.send(waiting)
        elif choice == "cancel":
            await self.cancel(waiting)
        elif waiting:
            self.say(kept_words(waiting, await self._server()))

    async def _choose(self, waiting: list[Waiting]) -> str:
        if not self.repl.can_ask():
            self.say(question(waiting))
            self.say("The input has ended, so nothing can be asked: keeping them (k).")
            return "keep"
        ask = question(waiting)
        while True:
            answer = await self.repl.ask(ask)
            if answer is None:
                self.say("The input has ended: keeping them (k).")
                return "keep"
            choice = ANSWERS.get(answer.strip().lower())
            if choice is not None:
                return choice
            ask = "Type y (send now), k (keep for the next start) or c (cancel)."

    async def keep_after_interrupt(self) -> None:
        """Ctrl-C or SIGTERM while leaving (or before): nothing is asked, nothing is lost."""
        try:
            waiting = await self.ctx.run(pending_replies.waiting, self.ctx, PLATFORM)
            if waiting:
                self.say(kept_words(waiting, await self._server()))
        except Exception:  # the database is away: the replies stay queued all the same
            pass

    async def send(self, waiting: list[Waiting], deadline: float = SEND_WAIT) -> None:
        ids = [w.reply_id for w in waiting]
        released = await self.ctx.run(pending_replies.send_now, self.ctx, ids)
        if ids and released:
            self.say(f"Sending {'1 reply' if len(ids) == 1 else f'{len(ids)} replies'} now…")
        ends = time.monotonic() + deadline
        while True:
            outcomes = await self.ctx.run(pending_replies.outcomes, self.ctx, ids)
            if all(o.state != "pending" for o in outcomes) or time.monotonic() > ends:
                break
            await asyncio.sleep(0.05)
        for o in outcomes:
            self.say(thread_text(str(o.ticket_id), _sent_words(o)))

    async def cancel(self, waiting: list[Waiting]) -> None:
        said = await self.ctx.run(pending_replies.cancel, self.ctx, self.repl.actor, [w.reply_id for w in waiting])
        for ticket_id, text in said:
            self.say(thread_text(str(ticket_id), text))

    async def _server(self) -> str | None:
        return await self.ctx.db.run(other_process, self.ctx.db, self.console.pitchin.worker.owner)


def _sent_words(o: Outcome) -> str:
    if o.state == "sent":
        return f"✅ Sent to {o.email} {o.words}."
    if o.state == "cancelled":
        return f"Taken back earlier: {o.email} does not get it."
    if o.state == "failed":
        return f"⚠️ Not delivered to {o.email}: {o.error}. Pitchin gave up: answer another way."
    why = f" ({o.error})" if o.error else ""
    return f"⏳ Not delivered to {o.email} yet{why}: it stays queued and goes out at the next start."
