"""Announcing discovery: now, and again after every Home Assistant birth message
(``<discovery_prefix>/status`` = ``online``), after a random delay, so a restarted HA (or one
whose broker lost retained messages) finds the node again without a stampede of every node
announcing at the same instant."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

HA_ONLINE = b"online"

Publish = Callable[[str, bytes, int, bool], Awaitable[object]]


class Announcer:
    """Publishes discovery (retained, QoS 1) now and again after every HA birth message.

    ``on_ha_status`` returns at once and announces from a background task after a delay drawn
    from ``uniform(0, delay_max_s)``; a second birth while one is pending restarts the wait, so
    a flapping HA gets one announcement. ``sleep`` and ``uniform`` are injectable for tests.
    """

    def __init__(
        self,
        publish: Publish,
        topic: str,
        payload: bytes | Callable[[], bytes],
        delay_max_s: float,
        *,
        uniform: Callable[[float, float], float] = random.uniform,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._publish = publish
        self._topic = topic
        self._payload = payload
        self._delay_max_s = delay_max_s
        self._uniform = uniform
        self._sleep = sleep
        self._pending: asyncio.Task[None] | None = None
        self.announcements = 0

    async def announce(self) -> None:
        payload = self._payload() if callable(self._payload) else self._payload
        await self._publish(self._topic, payload, 1, True)
        self.announcements += 1
        log.debug("announced Home Assistant discovery on %s", self._topic)

    async def on_ha_status(self, payload: bytes) -> None:
        if payload.strip().lower() != HA_ONLINE:
            return
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        delay = self._uniform(0.0, self._delay_max_s)
        self._pending = asyncio.create_task(self._announce_after(delay))

    async def wait_pending(self) -> None:
        """Wait for a scheduled announcement (tests, and a clean shutdown)."""
        if self._pending is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending

    async def close(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        await self.wait_pending()

    async def _announce_after(self, delay: float) -> None:
        await self._sleep(delay)
        try:
            await self.announce()
        except Exception:
            # A failed re-announce must not kill the node; the next birth or reconnect retries.
            log.exception("Home Assistant re-announce failed")
