"""``Node``: config -> broker -> MQTT link -> outbox -> HA -> commands -> models/analytics ->
gate/face commands -> cameras (``CameraPipeline`` per camera).

Start order matters: the outbox opens before anything can emit an event, retained state (schema,
switches, discovery, model slots, gate) and subscriptions are registered before the link connects
so the very first connection publishes them, and the cameras start last. Stop order is the
reverse: pipelines end their open events into the outbox, and the link publishes ``stopped``
before it disconnects cleanly. docs/node.md describes the whole.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from node.analytics.base import AnalyticFactory
from node.analytics.registry import BuildContext, build_enabled_tolerant, enabled_names
from node.broker import BrokerStartError, EmbeddedBroker
from node.clock import Clock, SystemClock
from node.commands import CommandDispatcher, CommandError, register_builtin
from node.commands.model_swap import register_model_commands
from node.config import ConfigError, format_validation_error, load_config
from node.face.analytic import shared_gate
from node.face.commands import register_face_commands
from node.face.enroll import EnrollPolicy, FaceService
from node.face.gate import AuthorisationGate, bind_gate
from node.frame import Frame
from node.homeassistant import (
    MOVEMENT_COUNTS_SUFFIX,
    STATE_OFF,
    STATE_ON,
    Announcer,
    DiscoverySpec,
    MovementCounter,
    PresenceTracker,
    discovery_payload,
    discovery_topic,
    ha_status_topic,
    toggle_state_suffix,
)
from node.inference.errors import ModelError
from node.mqtt.link import BrokerAddress, MqttLink, Protocol
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from node.outbox import Outbox, OutboxDrainer
from node.pipeline.camera import CameraPipeline
from node.registry.loader import ModelLoader
from node.registry.store import store_from_config
from node.snapshots import OverlayTap, Rendered, SnapshotRenderer, encode_jpeg
from node.sources.capture import LatestFrameCapture
from schemas.commands import ErrorCode
from schemas.config import NodeConfig
from schemas.config.camera import CameraConfig
from schemas.config.gate import GateScope
from schemas.events import Event, Lifecycle
from schemas.export import all_schemas
from schemas.status import (
    CameraStats,
    CameraStatus,
    EscalationStats,
    LinkStats,
    NodeStats,
    OutboxStats,
)

if TYPE_CHECKING:  # the movement package is imported only when the analytic runs
    from node.movement.escalation import EscalationWorker, PersonCrop

log = logging.getLogger(__name__)

# How often expired gate sessions are closed when no face analysis ran meanwhile.
GATE_TICK_S = 1.0


class OutboxEventSink:
    """Every event goes to the durable outbox; snapshots, presence and movement counts are best
    effort (retained state, re-published on reconnect).

    A ``new`` or ``end`` event that comes with a frame gets its JPEG rendered first (in the
    executor), so ``has_snapshot`` is set in the stored event; the JPEG itself is published only
    after the event is stored (QoS 0, never in the outbox). While the broker is unreachable no
    snapshot is rendered: it could not be published, and the event must not promise one.
    """

    def __init__(
        self,
        outbox: Outbox,
        link: MqttLink,
        config: NodeConfig,
        executor: ThreadPoolExecutor,
        renderer: SnapshotRenderer,
        presence: PresenceTracker | None = None,
        movement_counts: MovementCounter | None = None,
    ) -> None:
        self._outbox = outbox
        self._link = link
        self._config = config
        self._topics = Topics(config.mqtt.topic_prefix, config.node_id)
        self._executor = executor
        self._renderer = renderer
        self._presence = presence
        self._movement_counts = movement_counts
        self.emitted = 0
        self.snapshots = 0
        self.snapshot_failures = 0
        self._snapshots_done: asyncio.Future[None] | None = None

    async def emit(self, event: Event, snapshot_frame: Frame | None) -> None:
        """Store the event first (its latency is what consumers feel), then render and publish its
        snapshot in the background. ``has_snapshot`` promises a JPEG only when one will be made:
        a wanted snapshot, a frame, and a broker to take it (snapshots are QoS 0, never queued)."""
        wants = self._wants_snapshot(event, snapshot_frame)
        if wants:
            event = event.model_copy(update={"has_snapshot": True})
        payload = event.model_dump_json().encode()
        await self._outbox.put(self._topics.event(event.type), payload, self._config.mqtt.qos)
        self.emitted += 1
        if self._presence is not None:
            for suffix, state in self._presence.observe(event).items():
                await self._link.set_state(suffix, state)
        counts = self._movement_counts
        if counts is not None and counts.observe(event):
            await self._link.set_state(MOVEMENT_COUNTS_SUFFIX, counts.payload())
        if wants and snapshot_frame is not None:
            # Chained, so snapshots reach the broker in event order.
            self._snapshots_done = asyncio.ensure_future(
                self._snapshot_after(self._snapshots_done, event, snapshot_frame)
            )

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
        cam_topic, type_topic = t.camera_snapshot(event.camera), t.event_snapshot(event.type)
        await self._link.publish(cam_topic, shots.full)
        # Retained: HA's `image` entity shows the latest one even after a restart.
        await self._link.publish(type_topic, shots.full, retain=True)
        if shots.crop is not None:
            await self._link.publish(f"{cam_topic}/crop", shots.crop)
            await self._link.publish(f"{type_topic}/crop", shots.crop, retain=True)
        self.snapshots += 1


class PipelineFrames:
    """The face service's ``FrameProvider``: the latest frame of each running camera."""

    def __init__(self, pipelines: dict[str, CameraPipeline]) -> None:
        self._pipelines = pipelines

    def cameras(self) -> list[str]:
        return list(self._pipelines)

    async def latest(self, camera: str) -> Frame | None:
        p = self._pipelines.get(camera)
        return p.latest_frame if p is not None else None


class Node:
    """The running node. ``async with Node(config) as node: await node.wait()``."""

    def __init__(self, config: NodeConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.topics = Topics(config.mqtt.topic_prefix, config.node_id)
        self.data_dir = Path(config.data_dir)
        self.broker: EmbeddedBroker | None = None
        self.link: MqttLink | None = None
        self.outbox: Outbox | None = None
        self.sink: OutboxEventSink | None = None
        self.dispatcher: CommandDispatcher | None = None
        self.announcer: Announcer | None = None
        self.escalations: EscalationWorker | None = None
        self.factories: list[AnalyticFactory] = []
        self.analytics_failed: dict[str, str] = {}
        m = config.models
        # The progress bar of a first-start download goes to stderr, next to the log.
        store = store_from_config(
            m.store_dir, m.mirror, m.download_timeout_s, progress_stream=sys.stderr
        )
        self.loader = ModelLoader(store, m)
        self.gate = AuthorisationGate(config.gate, self.clock)  # replaced by the shared one
        self._overlays = OverlayTap()
        self.pipelines: dict[str, CameraPipeline] = {}
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="citywatch")
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._started_mono = self.clock.monotonic()

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Node:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def broker_address(self) -> BrokerAddress:
        if self.link is None:
            raise RuntimeError("node not started")
        return self.link.address

    async def start(self) -> None:
        c = self.config
        self.data_dir.mkdir(parents=True, exist_ok=True)
        address, protocol = await self._start_broker()
        absolute = (c.homeassistant.discovery_prefix,) if c.homeassistant.enabled else ()
        self.link = MqttLink(
            c.mqtt, self.topics, address, protocol=protocol, absolute_roots=absolute
        )
        self.outbox = Outbox(c.outbox.path or self.data_dir / "outbox.sqlite", c.outbox, self.clock)
        await self.outbox.open()
        drainer = OutboxDrainer(self.outbox, self.link, inflight=c.outbox.inflight)
        self._spawn(drainer.run(), "outbox-drainer")
        await self.link.set_state(self.topics.schema, json.dumps(all_schemas(), sort_keys=True))
        presence = await self._setup_homeassistant()
        counts = await self._setup_movement_counts()
        renderer = SnapshotRenderer(c, self._overlays)
        self.sink = OutboxEventSink(
            self.outbox, self.link, c, self._executor, renderer, presence, counts
        )
        await self._setup_commands()
        ctx = BuildContext(
            c.node_id, self.data_dir, models=self.loader, extras={"clock": self.clock}
        )
        # One gate for the face analytic (reports), the pipelines (ask) and the face commands.
        self.gate = shared_gate(c.gate, ctx.extras)
        self._setup_escalation(ctx.extras)
        # Builders may download models (first start) and warm sessions up: off the loop.
        built = await asyncio.get_running_loop().run_in_executor(
            self._executor, build_enabled_tolerant, c, ctx
        )
        for name, why in built.failed.items():
            log.error("analytic %s not started: %s (the node runs without it)", name, why)
        self.analytics_failed = built.failed
        # Tapped: an analytic's overlay image (fire heatmap) reaches the snapshot renderer.
        self.factories = [self._overlays.wrap(f) for f in built.factories]
        await self._setup_model_commands()
        await self._setup_gate()
        self._setup_face_commands(ctx.extras)
        await self.link.start()
        self._start_cameras()
        self._spawn(self._stats_loop(), "stats")

    async def _start_broker(self) -> tuple[BrokerAddress, Protocol]:
        c = self.config
        if c.mqtt.host is not None:
            return BrokerAddress(c.mqtt.host, c.mqtt.port), c.mqtt.protocol
        self.broker = EmbeddedBroker(c.broker)
        await self.broker.start()
        if c.mqtt.protocol == "5":
            log.warning("mqtt.protocol 5 ignored: the embedded broker speaks MQTT 3.1.1 only")
        # amqtt speaks MQTT 3.1.1 only; asking for it directly saves a refused v5 handshake.
        return BrokerAddress(self.broker.host, self.broker.port), "3.1.1"

    async def _setup_commands(self) -> None:
        assert self.link is not None
        if not self.config.commands.enabled:
            return
        link = self.link

        async def publish_reply(topic: str, payload: bytes, correlation: bytes | None) -> None:
            # Reply topics are complete (a v5 response topic may be anywhere): never resolved.
            await link.publish(topic, payload, qos=1, correlation_data=correlation, absolute=True)

        self.dispatcher = CommandDispatcher(
            self.config.node_id, self.topics, self.config.commands, publish_reply, self.clock
        )
        register_builtin(self.dispatcher, self, self.config, self.clock)
        await link.subscribe(self.topics.command_filter, self.dispatcher.handle)

    async def _setup_model_commands(self) -> None:
        """``model_swap``/``model_rollback`` and the retained ``state/model/<slot>`` of every
        loaded model (kept by the link, so published on connect)."""
        if self.dispatcher is None or self.link is None:
            return
        commands = register_model_commands(self.dispatcher, self.loader, self.link.set_state)
        await commands.publish_all()

    async def _setup_gate(self) -> None:
        """Gate changes become ``gate.opened``/``gate.closed`` events (through the outbox) and
        the retained ``state/gate`` (per camera for camera-scoped gates)."""
        assert self.link is not None
        gate = self.gate
        loop = asyncio.get_running_loop()
        publish_initial = bind_gate(
            gate, loop, self.config.node_id, self._emit, self.link.set_state
        )
        await publish_initial()
        if gate.config.scope is GateScope.CAMERA:
            for cam in self.config.cameras:
                state = gate.state(cam.name).model_dump_json(exclude_none=True)
                await self.link.set_state(gate.state_suffix(cam.name), state)
        if gate.enforcing:
            self._spawn(self._gate_ticker(), "gate-ticker")

    async def _gate_ticker(self) -> None:
        # The face analytic expires sessions when it runs; with the motion gate skipping frames
        # it may not run for a while, and `gate.closed` must still come on time.
        while not self._stopped.is_set():
            self.gate.tick()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), GATE_TICK_S)

    async def _emit(self, event: Event) -> None:
        assert self.sink is not None
        await self.sink.emit(event, None)

    def _setup_escalation(self, extras: dict[str, Any]) -> None:
        """Movement's escalation hook -> face identification off the loop -> a
        ``movement.identified`` event (``node/movement/escalation.py``), when both analytics run.
        The face engine and gallery are the face analytic's (``extras``, set when it is built)."""
        c = self.config
        names = enabled_names(c)
        if not ({"movement", "faces"} <= set(names) and c.analytics.movement.escalate_faces):
            return
        from node.movement.escalation import EscalationWorker

        def identify(request: Any, crops: list[PersonCrop]) -> Event | None:
            return self._identify(extras, request, crops)

        # its own single-worker pool: identifications never queue ahead of camera analysis
        self.escalations = EscalationWorker(
            asyncio.get_running_loop(), None, identify, self._emit_with_frame
        )
        extras["movement_escalation"] = self.escalations

    def _identify(self, extras: dict[str, Any], request: Any, crops: list[PersonCrop]
                  ) -> Event | None:
        """Blocking (runs in the escalation worker's pool): faces in the crops, matched against
        the gallery."""
        engine, gallery = extras.get("face_engine"), extras.get("face_gallery")
        if engine is None or gallery is None:
            return None  # the face analytic did not start
        p = self.pipelines.get(request.camera)
        if p is not None and not p.analytics.get("faces", False):
            return None  # faces switched off on this camera (`set` command)
        from node.movement.escalation import identified_event, identify_people

        fc = self.config.analytics.faces
        matcher = gallery.matcher(fc.match_threshold, fc.match_margin)
        people = identify_people(crops, engine, matcher, gallery.is_authorised)
        return identified_event(
            self.config.node_id, request, people, model=f"{fc.detector}+{fc.embedder}"
        )

    async def _emit_with_frame(self, event: Event, frame: Frame | None) -> None:
        assert self.sink is not None
        await self.sink.emit(event, frame)

    def _setup_face_commands(self, extras: dict[str, Any]) -> None:
        """Enrollment and authorisation over MQTT, when the faces analytic runs."""
        engine, gallery = extras.get("face_engine"), extras.get("face_gallery")
        if self.dispatcher is None or engine is None or gallery is None:
            return
        fc = self.config.analytics.faces
        policy = EnrollPolicy(
            fc.max_image_bytes, fc.max_images, fc.too_close_similarity, fc.enroll_max_seconds
        )
        frames = PipelineFrames(self.pipelines)
        register_face_commands(
            self.dispatcher, FaceService(engine, gallery, policy, self.gate, frames)
        )

    async def _setup_homeassistant(self) -> PresenceTracker | None:
        assert self.link is not None
        c = self.config
        # The run-time switches: the `set` command's state, whether or not HA reads it.
        for cam in c.cameras:
            await self.link.set_state(toggle_state_suffix("camera", cam.name), _on_off(cam.enabled))
        for name in enabled_names(c):
            await self.link.set_state(toggle_state_suffix("analytic", name), STATE_ON)
        if not c.homeassistant.enabled:
            return None
        link = self.link

        async def publish(topic: str, payload: bytes, qos: int, retain: bool) -> bool:
            return await link.publish(topic, payload, qos, retain)

        prefix = c.homeassistant.discovery_prefix
        payload = discovery_payload(DiscoverySpec.from_config(c))
        topic = discovery_topic(prefix, c.node_id)
        self.announcer = Announcer(publish, topic, payload, c.homeassistant.announce_delay_max_s)
        # Retained and re-published on every reconnect by the link; births re-announce.
        await link.set_state(topic, payload)

        async def on_status(msg: Message) -> None:
            assert self.announcer is not None
            await self.announcer.on_ha_status(msg.payload)

        await link.subscribe(ha_status_topic(prefix), on_status)
        presence = PresenceTracker()
        for suffix, state in presence.initial_states().items():
            await link.set_state(suffix, state)
        return presence

    async def _setup_movement_counts(self) -> MovementCounter | None:
        """Retained ``state/movement/counts`` (HA counter sensors, Node-RED), zeros at start."""
        assert self.link is not None
        if "movement" not in enabled_names(self.config):
            return None
        counter = MovementCounter(list(self.config.analytics.movement.actions))
        await self.link.set_state(MOVEMENT_COUNTS_SUFFIX, counter.payload())
        return counter

    def _start_cameras(self) -> None:
        assert self.sink is not None
        for cam in self.config.cameras:
            capture = LatestFrameCapture(cam, clock=self.clock)
            p = CameraPipeline(
                cam,
                capture,
                self.factories,
                node_id=self.config.node_id,
                sink=self.sink,
                executor=self._executor,
                on_status=self._camera_status,
                gate=self.gate,
                clock=self.clock,
            )
            self.pipelines[cam.name] = p
            p.start()

    async def _camera_status(self, camera: str, status: dict[str, Any]) -> None:
        """Retained ``<camera>/status``; a payload the contract refuses is logged, not sent."""
        if self.link is None:
            return
        try:
            payload = CameraStatus.model_validate(status).model_dump_json()
        except ValidationError as err:
            log.error(
                "camera %s: status %r breaks the CameraStatus contract: %s", camera, status, err
            )
            return
        await self.link.set_state(self.topics.camera_status(camera), payload)

    def _spawn(self, coro: Any, name: str) -> None:
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
        if self.escalations is not None:
            await self.escalations.drain(flush_timeout_s)
            self.escalations.close()
        await self._flush(max(0.0, deadline - loop.time()))
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.announcer is not None:
            await self.announcer.close()
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

    # -- RuntimeControl (the `set` and `snapshot` commands) -------------------------------------

    def set_camera_enabled(self, name: str, enabled: bool) -> None:
        p = self.pipelines.get(name)
        if p is None:
            raise CommandError(ErrorCode.NOT_FOUND, f"camera {name!r} is not running")
        p.set_camera_enabled(enabled)
        self._spawn(self._set_state(toggle_state_suffix("camera", name), enabled), "state")

    def set_analytic_enabled(self, name: str, enabled: bool, camera: str | None) -> None:
        if camera is None:
            targets = list(self.pipelines.values())
        else:
            targets = [self.pipelines[camera]] if camera in self.pipelines else []
        found = 0
        for p in targets:
            try:
                p.set_enabled(name, enabled)
            except KeyError:
                continue  # the analytic does not run on this camera
            found += 1
        if not found:
            where = f"on camera {camera!r}" if camera else "on any camera"
            raise CommandError(ErrorCode.NOT_FOUND, f"analytic {name!r} is not running {where}")
        if camera is None:
            self._spawn(self._set_state(toggle_state_suffix("analytic", name), enabled), "state")

    async def snapshot(self, camera: str) -> bytes:
        p = self.pipelines.get(camera)
        frame = p.latest_frame if p is not None else None
        if frame is None:
            return b""
        snap = self.config.snapshots
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, encode_jpeg, frame.image, snap.max_width, snap.jpeg_quality
        )

    async def _set_state(self, suffix: str, enabled: bool) -> None:
        if self.link is not None:
            await self.link.set_state(suffix, _on_off(enabled))

    # -- stats ----------------------------------------------------------------------------------

    def stats(self) -> NodeStats:
        now = self.clock.monotonic()
        cameras = {name: _camera_stats(p) for name, p in self.pipelines.items()}
        out = NodeStats(
            node_id=self.config.node_id,
            ts=self.clock.time(),
            uptime_s=round(now - self._started_mono, 3),
            cameras=cameras,
            inference_ms=_inference_by_model(cameras),
        )
        if self.outbox is not None:
            oc = self.outbox.counters
            out.outbox = OutboxStats(
                depth=self.outbox.depth,
                enqueued=oc.enqueued,
                delivered=oc.delivered,
                dropped=oc.dropped,
                expired=oc.expired,
            )
        if self.link is not None:
            lc = self.link.counters
            out.mqtt = LinkStats(
                connected=self.link.connected.is_set(),
                protocol=self.link.protocol,
                connects=lc.connects,
                reconnects=lc.reconnects,
                connect_failures=lc.connect_failures,
                publish_failures=lc.publish_failures,
                handler_errors=lc.handler_errors,
            )
        if self.dispatcher is not None:
            out.commands = self.dispatcher.stats()
        out.analytics_failed = dict(self.analytics_failed)
        if self.escalations is not None:
            out.escalation = EscalationStats.model_validate(asdict(self.escalations.stats))
        return out

    async def _stats_loop(self) -> None:
        assert self.link is not None
        # Ends with the node: once `_stopped` is set the wait below returns at once, and a loop
        # that kept going would flood the broker with stats while the cameras shut down.
        while not self._stopped.is_set():
            await self.link.connected.wait()
            await self.link.publish(self.topics.stats, self.stats().model_dump_json())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.config.stats_interval_s)


def _on_off(enabled: bool) -> str:
    return STATE_ON if enabled else STATE_OFF


def _camera_stats(p: CameraPipeline) -> CameraStats:
    s = p.snapshot()
    # HA's sensors read `cameras.<cam>.inference_ms.<analytic>`: the EMA of each analytic.
    s["inference_ms"] = {
        name: a["inference"]["ema_ms"] for name, a in s.get("analytics", {}).items()
    }
    s["enabled"] = p.camera_enabled
    s["analytics_enabled"] = p.analytics
    return CameraStats.model_validate(s)


def _inference_by_model(cameras: dict[str, CameraStats]) -> dict[str, float]:
    """Mean over cameras of each analytic's EMA inference time."""
    acc: dict[str, list[float]] = {}
    for cam in cameras.values():
        for name, ms in cam.inference_ms.items():
            if ms is not None:
                acc.setdefault(name, []).append(float(ms))
    return {name: round(sum(v) / len(v), 2) for name, v in acc.items()}


# -- `citywatch run` ------------------------------------------------------------------------------


def camera_name_for(source: str, taken: set[str]) -> str:
    """A topic-safe camera name from a source string (file stem, else ``cam``), unique."""
    stem = Path(source.rstrip("/")).stem if "://" not in source else "stream"
    base = re.sub(r"[^a-zA-Z0-9_-]", "_", stem)[:32] or "cam"
    if base.isdigit():
        base = f"cam{base}"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


def apply_cli_overrides(config: NodeConfig, args: argparse.Namespace) -> NodeConfig:
    raw = config.model_dump(mode="python")
    if args.node_id:
        raw["node_id"] = args.node_id
    if args.data_dir:
        raw["data_dir"] = args.data_dir
    if args.mqtt_host:
        raw["mqtt"]["host"] = args.mqtt_host
    if args.mqtt_port:
        raw["mqtt"]["port"] = args.mqtt_port
        if raw["mqtt"]["host"] is None:
            raw["broker"]["port"] = args.mqtt_port
    taken = {c["name"] for c in raw["cameras"]}
    for src in args.source:
        name = camera_name_for(src, taken)
        taken.add(name)
        raw["cameras"].append(CameraConfig(name=name, source=src, loop=args.loop).model_dump())
    if args.analytics:
        for name in (n.strip() for n in args.analytics.split(",")):
            if name not in raw["analytics"]:
                raise ConfigError(f"--analytics: unknown analytic {name!r}")
            raw["analytics"][name]["enabled"] = True
    # mode="python" keeps SecretStr objects, which validate as themselves: secrets stay hidden.
    try:
        return NodeConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, "command line")) from None


def describe(node: Node) -> str:
    c = node.config
    addr = node.broker_address
    where = "embedded amqtt broker" if node.broker is not None else "external broker"
    lines = [
        f"citywatch node {c.node_id!r}: {where} at {addr.host}:{addr.port}",
        f"  data dir: {node.data_dir}  (outbox: {node.outbox.path if node.outbox else '-'})",
        "  cameras: " + (", ".join(f"{x.name}={x.source}" for x in c.cameras) or "none"),
        "  analytics: " + (", ".join(f.name for f in node.factories) or "none"),
        *(f"  NOT STARTED {name}: {why}" for name, why in node.analytics_failed.items()),
        f"  availability: {node.topics.availability}   stats: {node.topics.stats}",
        f"  events: {node.topics.sub('events/#')}   schema: {node.topics.schema}",
        f"  commands: {node.topics.command_filter}   replies: {node.topics.sub('reply/#')}",
        f"  watch: mosquitto_sub -h {addr.host} -p {addr.port} -v "
        + " ".join(f"-t '{f}'" for f in node.topics.watch_filters),
    ]
    return "\n".join(lines)


async def _run_node(config: NodeConfig) -> int:
    try:
        node = Node(config)
        async with node:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, node.request_stop)
            print(describe(node), flush=True)
            await node.wait()
            print("stopping: publishing `stopped`, closing the outbox", flush=True)
    except (BrokerStartError, ModelError) as err:
        print(f"error: {err}", flush=True)
        return 2
    return 0


def run_from_args(args: argparse.Namespace) -> int:
    try:
        config = apply_cli_overrides(load_config(args.config), args)
    except ConfigError as err:
        print(f"error: {err}")
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # amqtt and its state machine log every connection at INFO; keep the node's output readable.
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    return asyncio.run(_run_node(config))
