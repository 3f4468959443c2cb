"""The web server's connections: a deadline for a request's headers, and a cap on open connections.

aiohttp closes a connection that never completes its headers only after its keep-alive timeout
(75 s), and accepts connections until the process runs out of file descriptors: 1,100 half-open
connections were enough to take /healthz down. Here every connection gets ``header_timeout`` to
finish its headers (from when it opens, or from the first byte of its next request), and when open
connections reach what the file limit allows, the oldest one that is not in a request is closed to
make room (a new one is refused only if every connection is busy in a request).

A request's headers are known to be in when the app's middleware sees the request (aiohttp has
parsed them by then). The body has its own deadline, kept where it is read (bot/request_body.py).
A request pipelined behind another is left to aiohttp's keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

log = logging.getLogger("pitchin.web")

# connections the kernel may hand over in one go before any of them is seen (asyncio accepts up to
# the listen backlog per wake-up), and descriptors Pitchin needs besides connections: the database,
# SMTP, the Slack and Teams clients, log files
BACKLOG = 128
RESERVED_FDS = 64
REPORT_EVERY = 60.0  # seconds: closed connections are reported in one line at most this often


@dataclass
class ServerLimits:
    """Set on Pitchin before it starts (tests shorten them); not configuration people need."""

    header_timeout: float = 30.0
    body_timeout: float = 60.0
    max_connections: int | None = None  # None: what the file descriptor limit allows


LIMITS = web.AppKey("server_limits", ServerLimits)
DEFAULT_LIMITS = ServerLimits()


def limits_of(app: web.Application) -> ServerLimits:
    return app.get(LIMITS, DEFAULT_LIMITS)


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:  # a platform that caps it lower (macOS): keep what we have
            log.info("could not raise the open-file limit from %s to %s: %s", soft, wanted, exc)
    return soft


def connection_cap() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    return max(16, soft - BACKLOG - RESERVED_FDS)


class _Tally:
    """Counts connections closed for a reason, and logs them in one short line a minute at most:
    a flood of half-open connections must not flood the log too."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.counts: dict[str, int] = {}
        self.flush_at: asyncio.TimerHandle | None = None

    def add(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if self.flush_at is None:
            self.flush()
            self.flush_at = self.loop.call_later(REPORT_EVERY, self._later)

    def _later(self) -> None:
        self.flush_at = None
        if self.counts:
            self.flush()
            self.flush_at = self.loop.call_later(REPORT_EVERY, self._later)

    def flush(self) -> None:
        if self.counts:
            log.warning("closed %s", "; ".join(f"{n} connection(s) {why}" for why, n in self.counts.items()))
            self.counts.clear()

    def stop(self) -> None:
        if self.flush_at is not None:
            self.flush_at.cancel()
            self.flush_at = None
        self.flush()


class _Connection(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection: everything is passed on; it only keeps time."""

    def __init__(self, guard: "GuardedServer", inner: asyncio.Protocol):
        self.guard, self.inner = guard, inner
        self.transport: asyncio.Transport | None = None
        self.in_request = False
        self.sent_anything = False
        self.passed_on = False  # aiohttp's protocol saw connection_made
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self.guard.admit(self):
            transport.close()
            return
        self.passed_on = True
        self.inner.connection_made(transport)
        self._start_clock()

    def data_received(self, data: bytes) -> None:
        self.sent_anything = True
        if not self.in_request and self.timer is None:  # the first byte of the next request
            self._start_clock()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.passed_on else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        self.guard.forget(self)
        if self.passed_on:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def request_started(self) -> None:
        self.in_request = True
        self._stop_clock()

    def request_finished(self) -> None:
        self.in_request = False  # the clock starts again with the next request's first byte

    def close(self, reason: str | None) -> None:
        """Hang up; ``reason`` is reported (None: an ordinary close nobody needs to hear about)."""
        self._stop_clock()
        self.guard.forget(self)
        if reason is not None:
            self.guard.tally.add(reason)
        if self.transport is not None:
            self.transport.close()

    def _start_clock(self) -> None:
        self._stop_clock()
        self.timer = asyncio.get_running_loop().call_later(self.guard.limits.header_timeout, self._headers_late)

    def _headers_late(self) -> None:
        self.timer = None
        # a connection opened and never used is ordinary (browsers open them ahead); half a request is not
        self.close(f"that did not finish their headers within {self.guard.limits.header_timeout:g} s"
                   if self.sent_anything else None)

    def _stop_clock(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class GuardedServer:
    """Serves a web.AppRunner on host:port, as web.TCPSite would, with the guards above."""

    def __init__(self, runner: web.AppRunner, limits: ServerLimits):
        self.runner, self.limits = runner, limits
        self.max_connections = limits.max_connections or connection_cap()
        self._open: dict[_Connection, None] = {}  # oldest first
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}
        self._server: asyncio.AbstractServer | None = None
        self.tally: _Tally | None = None

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.tally = _Tally(loop)
        aiohttp_protocol = self.runner.server
        self._server = await loop.create_server(lambda: _Connection(self, aiohttp_protocol()), host, port,
                                                backlog=BACKLOG, reuse_address=True)

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening; the runner's cleanup closes the connections that are left."""
        if self._server is not None:
            self._server.close()
        if self.tally is not None:
            self.tally.stop()

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def admit(self, connection: _Connection) -> bool:
        if len(self._open) >= self.max_connections:
            idle = next((c for c in self._open if not c.in_request), None)
            if idle is None:
                self.tally.add(f"at once: all {self.max_connections} allowed connections were busy")
                return False
            idle.close(f"to make room: {self.max_connections} connections were open (the most the "
                       "open-file limit allows), these were the oldest not in a request")
        self._open[connection] = None
        self._by_transport[connection.transport] = connection
        return True

    def forget(self, connection: _Connection) -> None:
        self._open.pop(connection, None)
        if self._by_transport.get(connection.transport) is connection:
            del self._by_transport[connection.transport]

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Tells a connection that its request's headers are in (its clock stops) and when it is done."""
        connection = self._by_transport.get(request.transport)
        if connection is None:
            return await handler(request)
        connection.request_started()
        try:
            response = await handler(request)
            if response.status == 408:  # its body was too slow: answer, then hang up instead of reading on
                await response.prepare(request)
                await response.write_eof()
                connection.close(f"that did not send their body within {self.limits.body_timeout:g} s")
            return response
        finally:
            connection.request_finished()
