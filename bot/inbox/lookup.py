"""DNS for reply URLs: a resolver with threads of its own, and one that lets aiohttp connect only
to addresses the reply-URL policy allows."""

from __future__ import annotations

import asyncio
import functools
import socket
from concurrent.futures import ThreadPoolExecutor

from aiohttp.abc import AbstractResolver, ResolveResult

from bot.inbox.addresses import AllowList, check_addresses

__all__ = ["CheckedResolver", "PoolResolver"]


class PoolResolver(AbstractResolver):
    """``getaddrinfo`` in a small thread pool of its own. aiohttp's default resolver uses asyncio's
    default pool, which PostgreSQL work shares: a reply URL whose DNS server does not answer
    (10 s and more per lookup) would then hold up the database. Here it holds up only reply URLs."""

    def __init__(self, threads: int = 4):
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="pitchin-dns")
        lookup = functools.partial(socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
        infos = await asyncio.get_running_loop().run_in_executor(self._pool, lookup)
        return [ResolveResult(hostname=host, host=address[0], port=address[1], family=af, proto=proto,
                              flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)
                for af, _, proto, _, address in infos if af in (socket.AF_INET, socket.AF_INET6)]

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class CheckedResolver(AbstractResolver):
    """Resolves with ``inner`` and raises ``Refused`` unless every address is allowed. aiohttp
    connects to exactly the addresses a resolver returns (TLS still checks the URL's host name),
    so a name cannot answer one address to the check and another to the connection."""

    def __init__(self, inner: AbstractResolver, allow: AllowList):
        self.inner = inner
        self.allow = allow

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        check_addresses(host, [r["host"] for r in found], self.allow)
        return found

    async def close(self) -> None:
        pass  # the inner resolver belongs to whoever made it
