"""DNS and TCP without the outside world: a resolver that answers from a table (so a test can make
a made-up name point anywhere without asking a DNS server), and a port on 127.0.0.1 that only
remembers who connected."""

from __future__ import annotations

import asyncio
import socket

from aiohttp.abc import AbstractResolver, ResolveResult


class StubResolver(AbstractResolver):
    """Answers from ``table`` (name → addresses); other names do not resolve. ``asked`` lists every
    lookup; change ``table`` between lookups to play a rebinding DNS server."""

    def __init__(self, table: dict[str, list[str]] | None = None, hang: bool = False):
        self.table = dict(table or {})
        self.hang = hang
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        self.asked.append(host)
        if self.hang:
            await asyncio.Event().wait()
        addresses = self.table.get(host.rstrip(".").lower())
        if addresses is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV) for a in addresses]

    async def close(self) -> None:
        pass


class Listener:
    """A TCP port on 127.0.0.1 that counts connections and closes them; with ``tls_name`` it is a
    TLS server with a self-signed certificate for that name and records the SNI names clients send."""

    def __init__(self, tls_name: str | None = None):
        self.tls_name = tls_name
        self.connections = 0
        self.server_names: list[str | None] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> "Listener":
        context = None
        if self.tls_name:
            from tests.fakes.smtp import make_tls_contexts

            context, _ = make_tls_contexts(self.tls_name)
            context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        listener = self

        class Count(asyncio.Protocol):
            def connection_made(self, transport):
                listener.connections += 1
                transport.close()

        self._server = await asyncio.get_running_loop().create_server(Count, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

