"""Read customer mail in worker processes, so that no mail can hold up the event loop.

Reading a mail is pure CPU (MIME, charsets, HTML to text). On the event loop a 5 MB mail of 50,000
parts stopped /healthz and Slack's acknowledgements for 13 s; in a thread it would still hold the
GIL. ``MailReader`` owns a small process pool, made once in ``bot/app.py`` and shut down with it;
HTTP intake and the IMAP poller both read through it, with the same ``read_mail``.

Workers start with "forkserver" (a clean process forked from a small server, fast after the first)
where the platform has it, else "spawn": never a fork of the serving process with its threads,
sockets and database connections.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import datetime

from bot.inbox.parse import MalformedEmail, parse_email
from bot.inbox.quotes import strip_quoted
from handlers.base import InboundMessage

__all__ = ["MailReader", "read_mail"]

log = logging.getLogger("pitchin.mail")


def read_mail(raw: bytes, received_at: datetime | None = None) -> InboundMessage:
    """One raw mail as the core takes it: parsed, and a follow-up without the history it quotes
    (the ticket's thread already shows it)."""
    message = parse_email(raw, received_at=received_at)
    if message.in_reply_to:
        message = replace(message, text=strip_quoted(message.text))
    return message


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class MailReader:
    """``await reader.read(raw)`` from the event loop, ``reader.read_blocking(raw)`` from a thread."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or min(2, os.cpu_count() or 1)
        self._context = multiprocessing.get_context(_start_method())
        if self._context.get_start_method() == "forkserver":
            self._context.set_forkserver_preload(["bot.inbox.reader"])  # workers start with it imported
        self._pool = self._new_pool()
        self._lock = threading.Lock()
        self._reading = 0
        self._waiters = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mail-reader")

    def _new_pool(self) -> ProcessPoolExecutor:
        # processes start on the first mail, not here
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context,
                                   initializer=_leave_with, initargs=(os.getpid(),))

    async def read(self, raw: bytes, received_at: datetime | None = None) -> InboundMessage:
        # handed over from a thread of our own: submitting can block (the pool's lock, a worker
        # process starting), and the default threads are the database's on PostgreSQL
        return await asyncio.get_running_loop().run_in_executor(self._waiters, self.read_blocking, raw, received_at)

    def read_blocking(self, raw: bytes, received_at: datetime | None = None) -> InboundMessage:
        with self._lock:
            self._reading += 1
        try:
            for pool in self._tries():
                try:
                    return pool.submit(read_mail, raw, received_at).result()
                except BrokenProcessPool:
                    self._renew(pool)
            raise _unreadable()
        finally:
            with self._lock:
                self._reading -= 1

    @property
    def busy(self) -> bool:
        """Whether a mail is being read right now."""
        return self._reading > 0

    def warm(self) -> None:
        """Start a worker now (from a thread), so that the first mail does not wait for the fork
        server to start and import Pitchin's mail code."""
        self._pool.submit(_ready).result()

    def _tries(self):
        """The pool to read in, and once more the pool after a broken one was renewed."""
        yield self._pool
        yield self._pool

    def _renew(self, pool: ProcessPoolExecutor) -> None:
        """A worker died (killed for memory, say) and took every mail its pool had with it: those
        are read again once in a new pool; a mail that kills that one too is refused."""
        with self._lock:  # two readers that saw the same pool break renew it once
            if self._pool is not pool:
                return
            self._pool = self._new_pool()
        pool.shutdown(wait=False, cancel_futures=True)
        log.error("a mail reader process stopped while reading; started new ones")

    def close(self) -> None:
        self._waiters.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)


def _unreadable() -> MalformedEmail:
    return MalformedEmail("Pitchin's mail reader stopped while reading this email (it may be too large or "
                          "too complex to read), twice; it was not stored.")


def _leave_with(server_pid: int, every: float = 1.0) -> None:
    """In a worker: exit when the Pitchin process that reads through this pool is gone.

    A worker holds both ends of its own task queue, so a SIGKILLed server never closes it; and it
    holds the fork server's "alive" pipe, so the fork server stays too: without this, every killed
    server left three idle processes behind for good."""

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # alive, under another user (never here, but not gone)
                pass

    threading.Thread(target=watch, name="leave-with-server", daemon=True).start()


def _ready() -> None:
    """Nothing: run in a worker to have it started."""
