"""A web form's backend on 127.0.0.1: records each POST Pitchin makes and answers from a script."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next ``script`` entry (status, headers, text[, reason]);
    200 "ok" when the script is empty. ``hang`` holds every answer until ``release`` is set."""

    url: str = ""
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    script: list[tuple] = field(default_factory=list)
    hang: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(Seen(request.method, request.path, dict(request.headers), await request.read()))
        if self.hang:
            await self.release.wait()
        status, headers, text, *reason = self.script.pop(0) if self.script else (200, {}, "ok")
        return web.Response(status=status, headers=headers, text=text, reason=reason[0] if reason else None)

    async def start(self, path: str = "/pitchin/replies") -> "Receiver":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
