"""``OutboxEventSink``: where every event goes. The durable outbox first, then the observers
(presence, movement counters: retained state), then the snapshot.

A ``new`` or ``end`` event that comes with a frame gets its JPEG rendered first (in the
executor), so ``has_snapshot`` is set in the stored event; the JPEG itself is published only
after the event is stored (QoS 0, never in the outbox). While the broker is unreachable no
snapshot is rendered: it could not be published, and the event must not promise one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Protocol

from node.frame import Frame
from node.mqtt.topics import Topics
from node.outbox import Outbox
from node.snapshots import Rendered, SnapshotRenderer
from schemas.config import NodeConfig
from schemas.events import Event, Lifecycle, ensure_writable

log = logging.getLogger(__name__)


class EventObserver(Protocol):
    """Follows the event stream after each event is stored (best effort, retained state)."""

    async def observe(self, event: Event) -> None: ...


class SnapshotLink(Protocol):
    """What the sink needs of ``MqttLink``: whether it is connected, and a best-effort publish."""

    @property
    def connected(self) -> asyncio.Event: ...

    async def publish(
        self, suffix_or_topic: str, payload: bytes | str, qos: int = 0, retain: bool = False
    ) -> bool: ...


class OutboxEventSink:
    """Every event goes to the durable outbox; observers and snapshots are best effort."""

    def __init__(
        self,
        outbox: Outbox,
        link: SnapshotLink,
        config: NodeConfig,
        executor: Executor,
        renderer: SnapshotRenderer,
        observers: Sequence[EventObserver] = (),
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._config = config
        self._topics = Topics(config.mqtt.topic_prefix, config.node_id)
        self._executor = executor
        self._renderer = renderer
        self._observers = list(observers)
        self.emitted = 0
        self.snapshots = 0
        self.snapshot_failures = 0
        self._snapshots_done: asyncio.Future[None] | None = None

    async def emit(self, event: Event, snapshot_frame: Frame | None) -> None:
        """Store the event first (its latency is what consumers feel), then render and publish its
        snapshot in the background. ``has_snapshot`` promises a JPEG only when one will be made:
        a wanted snapshot, a frame, and a broker to take it (snapshots are QoS 0, never queued)."""
        ensure_writable(event)  # nothing undeclared reaches the outbox, whoever built the event
        wants = self._wants_snapshot(event, snapshot_frame)
        if wants:
            event = event.model_copy(update={"has_snapshot": True})
        payload = event.model_dump_json().encode()
        await self._outbox.put(self._topics.event(event.type), payload, self._config.mqtt.qos)
        self.emitted += 1
        for observer in self._observers:
            await observer.observe(event)
        if wants and snapshot_frame is not None:
            # Chained, so snapshots reach the broker in event order.
            self._snapshots_done = asyncio.ensure_future(
                self._snapshot_after(self._snapshots_done, event, snapshot_frame)
            )

    async def emit_event(self, event: Event) -> None:
        """An event without a frame (gate changes)."""
        await self.emit(event, None)

    async def drain(self) -> None:
        """Wait until every pending snapshot is published (shutdown, tests)."""
        while self._snapshots_done is not None and not self._snapshots_done.done():
            await asyncio.shield(self._snapshots_done)

    def _wants_snapshot(self, event: Event, frame: Frame | None) -> bool:
        if frame is None or event.lifecycle is Lifecycle.UPDATE:
            return False
        return self._link.connected.is_set() and self._renderer.wanted(event)

    async def _snapshot_after(
        self, previous: asyncio.Future[None] | None, event: Event, frame: Frame
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            shots = await loop.run_in_executor(self._executor, self._renderer.render, event, frame)
        except Exception:  # a bad image must not cost anything else
            self.snapshot_failures += 1
            log.exception("snapshot of event %s (%s) failed", event.event_id, event.type)
            shots = None
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        if shots is not None:
            await self._publish(event, shots)

    async def _publish(self, event: Event, shots: Rendered) -> None:
        t = self._topics
        await self._link.publish(t.camera_snapshot(event.camera), shots.full)
        # Retained: HA's `image` entity shows the latest one even after a restart.
        await self._link.publish(t.event_snapshot(event.type), shots.full, retain=True)
        if shots.crop is not None:
            await self._link.publish(t.camera_snapshot_crop(event.camera), shots.crop)
            await self._link.publish(t.event_snapshot_crop(event.type), shots.crop, retain=True)
        self.snapshots += 1
