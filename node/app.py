"""``Node``, the composition root: config -> broker -> MQTT link -> outbox -> Home Assistant ->
commands -> services -> analytics -> cameras (``CameraPipeline`` per camera).

Start order matters: the outbox opens before anything can emit an event, retained state (schema,
switches, discovery, model slots, gate) and subscriptions are registered before the link connects
so the very first connection publishes them, and the cameras start last. Stop order is the
reverse: pipelines end their open events into the outbox, and the link publishes ``stopped``
before it disconnects cleanly. docs/node.md describes the whole; each part lives in its own
module (``node.sink``, ``node.services``, ``node.control``, ``node.stats``,
``node.homeassistant``, ``node.notify``, ``node.explain``), and ``citywatch run`` is
``node.cli.run_cmd``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from node.analytics.base import AnalyticFactory
from node.analytics.registry import BuildContext, build_enabled_tolerant, enabled_names
from node.broker import DEFAULT_PORT, EmbeddedBroker
from node.clock import Clock, SystemClock
from node.commands import CommandDispatcher
from node.commands.channel import open_commands
from node.commands.model_swap import register_model_commands
from node.control import PipelineControl
from node.explain.wiring import attach_explanations
from node.face.commands import attach_face_commands
from node.face.gate import AuthorisationGate, publish_gate, tick_gate
from node.homeassistant import HomeAssistantBridge
from node.mqtt.link import BrokerAddress, MqttLink, Protocol
from node.mqtt.topics import Topics, on_off, toggle_state_suffix
from node.notify.service import Notifier, notifier_for
from node.outbox import Outbox, OutboxDrainer
from node.pipeline.camera import CameraPipeline
from node.registry.loader import ModelLoader
from node.registry.store import store_from_config
from node.services import NodeServices, build_services
from node.sink import OutboxEventSink
from node.snapshots import OverlayTap, SnapshotRenderer
from node.sources.capture import LatestFrameCapture
from node.stats import node_stats, publish_stats
from node.zone_state import ZoneStatePublisher, open_zone_state
from schemas.config import NodeConfig
from schemas.export import all_schemas
from schemas.status import CameraStatus, NodeStats

log = logging.getLogger(__name__)

# How often expired gate sessions are closed when no face analysis ran meanwhile.
GATE_TICK_S = 1.0


class Node:
    """The running node. ``async with Node(config) as node: await node.wait()``.

    ``default_broker_port``: where the embedded broker listens when ``broker.port`` is unset
    (it moves to a free port when this one is taken); tests inject one.
    """

    def __init__(
        self,
        config: NodeConfig,
        *,
        clock: Clock | None = None,
        default_broker_port: int = DEFAULT_PORT,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.topics = Topics(config.mqtt.topic_prefix, config.node_id)
        self.data_dir = Path(config.data_dir)
        self._default_broker_port = default_broker_port
        self.broker: EmbeddedBroker | None = None
        self.link: MqttLink | None = None
        self.outbox: Outbox | None = None
        self.sink: OutboxEventSink | None = None
        self.dispatcher: CommandDispatcher | None = None
        self.homeassistant: HomeAssistantBridge | None = None
        self.notifier: Notifier | None = None
        self.services: NodeServices | None = None
        self.zone_state: ZoneStatePublisher | None = None  # line and zone counters
        self.factories: list[AnalyticFactory] = []
        self.analytics_failed: dict[str, str] = {}
        m = config.models
        # The progress bar of a first-start download goes to stderr, next to the log.
        store = store_from_config(
            m.store_dir, m.mirror, m.download_timeout_s, progress_stream=sys.stderr
        )
        self.loader = ModelLoader(store, m)
        self._overlays = OverlayTap()
        self.pipelines: dict[str, CameraPipeline] = {}
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="citywatch")
        self.control = PipelineControl(
            self.pipelines, self._set_state, config.snapshots, self._executor, self._spawn
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._started_mono = self.clock.monotonic()

    @property
    def gate(self) -> AuthorisationGate:
        if self.services is None:
            raise RuntimeError("node not started")
        return self.services.gate

    @property
    def broker_address(self) -> BrokerAddress:
        if self.link is None:
            raise RuntimeError("node not started")
        return self.link.address

    async def __aenter__(self) -> Node:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        c = self.config
        self.data_dir.mkdir(parents=True, exist_ok=True)
        address, protocol = await self._start_broker()
        absolute = (c.homeassistant.discovery_prefix,) if c.homeassistant.enabled else ()
        link = self.link = MqttLink(
            c.mqtt, self.topics, address, protocol=protocol, absolute_roots=absolute
        )
        self.outbox = Outbox(c.outbox.path or self.data_dir / "outbox.sqlite", c.outbox, self.clock)
        await self.outbox.open()
        drainer = OutboxDrainer(self.outbox, link, inflight=c.outbox.inflight)
        self._spawn(drainer.run(), "outbox-drainer")
        await link.set_state(self.topics.schema, json.dumps(all_schemas(), sort_keys=True))
        # The run-time switches: the `set` command's state, whether or not HA reads it.
        for cam in c.cameras:
            await self._set_state(toggle_state_suffix("camera", cam.name), on_off(cam.enabled))
        self.homeassistant = await HomeAssistantBridge.start(link, c, enabled_names(c))
        renderer = SnapshotRenderer(c, self._overlays)
        notifier = self.notifier = notifier_for(c, self.outbox, self.clock)  # None: no targets
        obs = self.homeassistant.observers
        self.sink = OutboxEventSink(self.outbox, link, c, self._executor, renderer, obs, notifier)
        self.dispatcher = await open_commands(link, c, self.topics, self.clock, self.control)
        if notifier is not None:  # its worker, `notify_test`, failures as events
            await notifier.start(self.sink.emit_event, self.dispatcher)
        self.services, failed = await build_services(
            c, self.data_dir, self.loader, self.clock, self._executor,
            emit=self.sink.emit, faces_on=self.control.faces_on,
        )
        zs = self.zone_state = await open_zone_state(  # restored, retained, `reset_counts`
            self.services.zone_counts, link.set_state, self.data_dir, self.clock, self.dispatcher
        )
        if zs is not None:  # publishes changes; a last save when cancelled at stop
            self._spawn(zs.run(), "zone-counts")
        ctx = BuildContext(c.node_id, self.data_dir, models=self.loader, services=self.services)
        # Builders may download models (first start) and warm sessions up: off the loop.
        built = await asyncio.get_running_loop().run_in_executor(
            self._executor, build_enabled_tolerant, c, ctx, failed
        )
        for name, why in built.failed.items():
            log.error("analytic %s not started: %s (the node runs without it)", name, why)
        self.analytics_failed = built.failed
        # Tapped: an analytic's overlay image (fire heatmap) reaches the snapshot renderer.
        self.factories = [self._overlays.wrap(f) for f in built.factories]
        # A switch is ON only for an analytic that runs: a failed one is OFF (retained, so an
        # ON left by an earlier run is replaced).
        for name in enabled_names(c):
            running = name not in built.failed
            await self._set_state(toggle_state_suffix("analytic", name), on_off(running))
        if self.dispatcher is not None:  # model_swap/_rollback, retained `state/model/<slot>`
            models = register_model_commands(self.dispatcher, self.loader, link.set_state)
            await models.publish_all()
        # Gate changes: `gate.opened`/`gate.closed` events (outbox) and retained `state/gate`.
        cams = [cam.name for cam in c.cameras]
        await publish_gate(self.gate, c.node_id, self.sink.emit_event, link.set_state, cams)
        if self.gate.enforcing:
            self._spawn(tick_gate(self.gate, self._stopped, GATE_TICK_S), "gate-ticker")
        faces = self.services.faces
        attach_face_commands(self.dispatcher, faces, c.analytics.faces, self.gate, self.control)
        self._spawn(attach_explanations(c, self.loader, link, self.dispatcher, self.control,
                                        self.sink, faces, self.factories), "explain")  # fmt: skip
        await link.start()
        self._start_cameras()
        self._spawn(publish_stats(link, self.topics.stats, c.stats_interval_s, self._stopped,
                                  self.stats), "stats")

    async def _start_broker(self) -> tuple[BrokerAddress, Protocol]:
        c = self.config
        if c.mqtt.host is not None:
            return BrokerAddress(c.mqtt.host, c.mqtt.port), c.mqtt.protocol
        self.broker = EmbeddedBroker(c.broker, default_port=self._default_broker_port)
        await self.broker.start()
        if c.mqtt.protocol == "5":
            log.warning("mqtt.protocol 5 ignored: the embedded broker speaks MQTT 3.1.1 only")
        # amqtt speaks MQTT 3.1.1 only; asking for it directly saves a refused v5 handshake.
        return BrokerAddress(self.broker.host, self.broker.port), "3.1.1"

    def _start_cameras(self) -> None:
        assert self.sink is not None
        for cam in self.config.cameras:
            capture = LatestFrameCapture(cam, clock=self.clock)
            p = CameraPipeline(
                cam, capture, self.factories, node_id=self.config.node_id, sink=self.sink,
                executor=self._executor, on_status=self._camera_status, gate=self.gate,
                clock=self.clock,
            )
            self.pipelines[cam.name] = p
            p.start()

    async def _camera_status(self, camera: str, status: dict[str, Any]) -> None:
        """Retained ``<camera>/status``; a payload the contract refuses is logged, not sent."""
        try:
            payload = CameraStatus.model_validate(status).model_dump_json()
        except ValidationError as err:
            log.error("camera %s: status %r breaks the CameraStatus contract: %s",
                      camera, status, err)
            return
        await self._set_state(self.topics.camera_status(camera), payload)

    async def _set_state(self, suffix_or_topic: str, payload: str) -> None:
        if self.link is not None:
            await self.link.set_state(suffix_or_topic, payload)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    def request_stop(self) -> None:
        self._stopped.set()

    async def wait(self) -> None:
        """Until ``request_stop`` (SIGINT/SIGTERM in ``run``)."""
        await self._stopped.wait()

    async def stop(self, flush_timeout_s: float = 2.0) -> None:
        self._stopped.set()
        # Each pipeline ends its open events (into the outbox) and publishes `stopped`.
        await asyncio.gather(*(p.stop() for p in self.pipelines.values()), return_exceptions=True)
        # One deadline for both: identifications under way may still reach the outbox until it,
        # those left then are cancelled (no event) before the outbox closes; the flush gets
        # what remains.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + flush_timeout_s
        escalations = self.services.escalation if self.services is not None else None
        if escalations is not None:
            await escalations.drain(flush_timeout_s)
            escalations.close()
        await self._flush(max(0.0, deadline - loop.time()))
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.notifier is not None:  # sends under way get the flush time, then stay queued
            await self.notifier.stop(flush_timeout_s)
        if self.homeassistant is not None:
            await self.homeassistant.close()
        if self.link is not None:
            await self.link.stop()
        if self.outbox is not None:
            await self.outbox.close()
            self.outbox = None
        if self.broker is not None:
            await self.broker.stop()
        for f in self.factories:
            f.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _flush(self, timeout_s: float) -> None:
        """Give the drainer a moment to deliver the last events; the rest waits on disk."""
        if self.outbox is None or self.link is None or not self.link.connected.is_set():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.outbox.wait_empty(), timeout_s)
        if self.sink is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.sink.drain(), timeout_s)

    def stats(self) -> NodeStats:
        return node_stats(
            self.config.node_id, self.clock.time(), self.clock.monotonic() - self._started_mono,
            self.pipelines, outbox=self.outbox, link=self.link, dispatcher=self.dispatcher,
            analytics_failed=self.analytics_failed,
            escalations=self.services.escalation if self.services is not None else None,
            notifications=self.notifier.stats() if self.notifier is not None else None,
        )
