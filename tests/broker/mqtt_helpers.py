"""Small aiomqtt helpers for tests that talk to a real broker: connect as a user, collect."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiomqtt


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Collector:
    """Records every message a client receives; ``wait_for`` polls with a timeout, no sleeps."""

    messages: list[Received] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, msg: aiomqtt.Message) -> None:
        payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
        self.messages.append(Received(msg.topic.value, payload, bool(msg.retain)))
        self._changed.set()

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    async def wait_for(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        # asyncio.wait_for, not asyncio.timeout: the project supports Python 3.10.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not cond():
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - loop.time()))


@contextlib.asynccontextmanager
async def client(
    port: int,
    username: str | None = None,
    password: str | None = None,
    *,
    tls: ssl.SSLContext | None = None,
    identifier: str | None = None,
    timeout: float = 5.0,
) -> AsyncIterator[tuple[aiomqtt.Client, Collector]]:
    """A connected client and the collector its background reader fills."""
    c = aiomqtt.Client(
        "127.0.0.1",
        port,
        username=username,
        password=password,
        identifier=identifier,
        tls_context=tls,
        timeout=timeout,
    )
    collector = Collector()
    async with c:

        async def read() -> None:
            async for msg in c.messages:
                collector.add(msg)

        task = asyncio.create_task(read())
        try:
            yield c, collector
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def tls_context(ca: str, cert: str | None = None, key: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx
