"""``OutboxEventSink``: where every event goes. The durable outbox first (with the event's
notification jobs, in the same transaction), then the observers (presence, movement counters:
retained state), then the snapshot (published, and handed to the notifier when a job attaches it).

A ``new`` or ``end`` event that comes with a frame gets its JPEG rendered first (in the
executor), so ``has_snapshot`` is set in the stored event; the JPEG itself is published only
after the event is stored (QoS 0, never in the outbox). While the broker is unreachable no
snapshot is rendered: it could not be published, and the event must not promise one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Protocol

from node.frame import Frame
from node.mqtt.topics import Topics
from node.notify.service import Notifier
from node.notify.store import JobBatch, wants_image
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
        notifier: Notifier | None = None,
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._config = config
        self._topics = Topics(config.mqtt.topic_prefix, config.node_id)
        self._executor = executor
        self._renderer = renderer
        self._observers = list(observers)
        # told of each event with its frame, on the loop, after the event is stored: must be
        # quick (the explanation service only records the frame and may start a task)
        self.frame_observers: list[Callable[[Event, Frame | None], None]] = []
        self._notifier = notifier
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
        jobs = self._plan(event, snapshot_frame)
        also = jobs.write if jobs is not None else None
        await self._outbox.put(self._topics.event(event.type), payload, self._config.mqtt.qos,
                               also=also)
        if jobs is not None and self._notifier is not None:
            self._notifier.committed(jobs)
        self.emitted += 1
        for observer in self._observers:
            await observer.observe(event)
        for watch in self.frame_observers:
            try:
                watch(event, snapshot_frame)
            except Exception:  # an observer's bug must not cost the snapshot
                log.exception("frame observer failed on event %s", event.event_id)
        # Notifications want the image even while the broker is away.
        attach = wants_image(jobs)
        if (wants or attach) and snapshot_frame is not None:
            # Chained, so snapshots reach the broker in event order.
            self._snapshots_done = asyncio.ensure_future(
                self._snapshot_after(self._snapshots_done, event, snapshot_frame, wants, attach)
            )

    def _plan(self, event: Event, frame: Frame | None) -> JobBatch | None:
        if self._notifier is None:
            return None
        try:
            return self._notifier.plan(event, has_frame=frame is not None)
        except Exception:  # a broken rule must never cost the event itself
            log.exception("notification rules failed on event %s (%s)", event.event_id,
                          event.type)
            return None

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
        self, previous: asyncio.Future[None] | None, event: Event, frame: Frame,
        publish: bool, attach: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            shots = await loop.run_in_executor(self._executor, self._renderer.render, event, frame)
        except Exception:  # a bad image must not cost anything else
            self.snapshot_failures += 1
            log.exception("snapshot of event %s (%s) failed", event.event_id, event.type)
            shots = None
        if shots is not None and attach and self._notifier is not None:
            try:  # without it the jobs go out image-less after attachment_wait_s
                await self._notifier.attach(event.event_id, shots.full, shots.crop)
            except Exception:
                log.exception("snapshot of event %s not stored for notifications",
                              event.event_id)
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        if shots is not None and publish:
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
