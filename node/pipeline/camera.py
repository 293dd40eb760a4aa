"""``CameraPipeline``: the asyncio task of one camera.

Constructor signatures (stable; ``node.app`` builds one capture and one pipeline per camera and
shares one executor, one sink and one clock between them)::

    capture = LatestFrameCapture(camera_config, clock=clock)          # node.sources.capture
    pipeline = CameraPipeline(
        camera_config,
        capture,
        factories,                 # Sequence[AnalyticFactory], all of the node's analytics
        node_id=config.node_id,
        sink=sink,                 # EventSink: async emit(event, snapshot_frame)
        executor=executor,         # concurrent.futures.ThreadPoolExecutor shared by cameras
        on_status=on_status,       # async (camera, status_dict) -> None, for <camera>/status
        gate=gate,                 # optional: is_open(camera) -> bool, for gated analytics
        clock=clock,               # the same Clock as the capture's (monotonic times compare)
    )
    task = pipeline.start()        # or: await pipeline.run()
    ...
    pipeline.set_enabled("faces", False)            # `set` command: one analytic (KeyError)
    pipeline.set_camera_enabled(False)              # `set` command: the whole camera
    await pipeline.settle()                         # optional: wait for the toggles' effects
    pipeline.snapshot()                             # dict for the node's `stats` message
    pipeline.latest_frame                           # for the `snapshot` command
    await pipeline.stop()                           # ends open events, stops the capture
                                                    # (cancelling the task does the same)

Per frame: take the newest frame, pick the analytics that are due (enabled, idle, gate open,
rate limit), consult the motion gate, run them in the executor (analytics of one camera run
concurrently with each other, one analytic instance never twice at once), feed each result to
that analytic's ``EventLifecycle`` and hand the events to the sink, in order.

Its seams (``EventSink``, ``Gate``, ``FrameFeed``) are in ``interfaces.py``; one analytic's live
state on this camera is an ``AnalyticSlot`` (``slots.py``); source statuses reach the node
through a ``StatusRelay`` (``status.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from node.analytics.base import AnalyticFactory
from node.clock import Clock, SystemClock
from node.frame import Frame
from node.lifecycle import EmittedEvent
from node.pipeline.interfaces import EventSink, FrameFeed, Gate, StatusCallback
from node.pipeline.motion import MotionGate
from node.pipeline.slots import AnalyticSlot, analyze, applies_to
from node.pipeline.stats import CameraStats
from node.pipeline.status import StatusRelay
from node.sources.capture import CapturedFrame
from schemas.config.camera import CameraConfig

log = logging.getLogger(__name__)

# How long the loop waits for a frame before it ends stale tracks anyway (source offline).
IDLE_TIMEOUT_S = 1.0
# Log an analytic's failures at most once per this many, with the first traceback.
_ERROR_LOG_EVERY = 100


class CameraPipeline:
    def __init__(
        self,
        config: CameraConfig,
        capture: FrameFeed,
        factories: Sequence[AnalyticFactory],
        *,
        node_id: str,
        sink: EventSink,
        executor: concurrent.futures.Executor,
        on_status: StatusCallback | None = None,
        gate: Gate | None = None,
        clock: Clock | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.camera = config.name
        self._node_id = node_id
        self._config = config
        self._capture = capture
        self._sink = sink
        self._executor = executor
        self._gate = gate
        self._clock: Clock = clock or SystemClock()
        self._idle_timeout = idle_timeout_s
        self._slots = {
            f.name: AnalyticSlot.create(f, node_id, self.camera)
            for f in factories
            if applies_to(f, self.camera)
        }
        self._motion = MotionGate(config.motion)
        self.stats = CameraStats(camera=self.camera)
        self.latest_frame: Frame | None = None
        self._camera_enabled = config.enabled
        self._generation: int | None = None
        self._last_read = 0
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # a slot went idle, or a toggle / stop happened
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._background: set[asyncio.Task[None]] = set()
        self._toggle_lock = asyncio.Lock()
        self._statuses = StatusRelay(self.camera, on_status, self.stats)
        capture.add_listener(self._statuses.from_thread)
        if any(s.factory.gated for s in self._slots.values()) and gate is None:
            log.warning("%s: gated analytics never run: no gate was given", self.camera)

    # -- public API ----------------------------------------------------------------------------

    @property
    def analytics(self) -> dict[str, bool]:
        """Analytic name -> enabled, for this camera."""
        return {name: s.enabled for name, s in self._slots.items()}

    @property
    def camera_enabled(self) -> bool:
        return self._camera_enabled

    def start(self) -> asyncio.Task[None]:
        """Run in a task (idempotent while running)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"pipeline-{self.camera}"
            )
        return self._task

    async def run(self) -> None:
        """Process frames until ``stop()``, cancellation, or the end of the source (a file
        without ``loop``). However it ends, open events are ended and the capture stopped."""
        self._statuses.start()
        self._stopping = False
        self._running = True
        if self._camera_enabled:
            self._capture.start()
        try:
            await self._frames()
        finally:
            self._running = False
            if not self._capture.finished:  # cancelled: the thread is still reading
                await asyncio.to_thread(self._capture.stop)
            await self._drain()
            await self._end_all()

    async def _frames(self) -> None:
        while not self._stopping:
            if not self._camera_enabled:
                await self._wait_wake(None)
                continue
            await self._wait_capacity()
            item = await self._capture.take(self._idle_timeout)
            if item is not None:
                await self._process(item)
            elif not self._capture.finished:
                await self._expire_all()  # no frame for a while (offline): end stale tracks
            elif self._stopping or not self._camera_enabled:
                continue  # stopped on purpose; the loop condition decides
            elif self._capture.state == "ended":
                await self._finish_analytics()
                return
            else:
                await self._restart_capture()

    async def stop(self) -> None:
        """Stop the capture, finish running analyses, end every open event, publish the last
        status. Idempotent."""
        self._stopping = True
        self._wake.set()
        await asyncio.to_thread(self._capture.stop)
        await self.settle()
        if self._task is not None and self._task is not asyncio.current_task():
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drain()
        await self._end_all()
        await self._statuses.flush()

    async def settle(self) -> None:
        """Wait for the work that toggles scheduled (end events, capture stop/start)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def set_enabled(self, analytic: str, enabled: bool) -> None:
        """Toggle one analytic on this camera (``set`` command). Disabling ends its open events;
        they are handed to the sink in the background (``settle()`` waits for them).
        Raises KeyError for an analytic that does not run on this camera."""
        slot = self._slots.get(analytic)
        if slot is None:
            raise KeyError(
                f"analytic {analytic!r} does not run on camera {self.camera!r}; "
                f"known: {sorted(self._slots)}"
            )
        if slot.enabled == enabled:
            return
        slot.enabled = enabled
        if not enabled:
            # A run in flight finds the slot disabled and drops its result (see _run_one).
            slot.reset_pending = True
            slot.limiter.reset()
            self._in_background(self._emit(slot.lifecycle.end_all(self._clock.time())))
        self._wake.set()

    def set_camera_enabled(self, enabled: bool) -> None:
        """Toggle the whole camera (``set`` command). Disabling stops the capture (status
        ``stopped``, reason "disabled by command") and ends every open event; enabling starts
        the capture again. The work runs in the background (``settle()`` waits for it)."""
        if enabled == self._camera_enabled:
            return
        self._camera_enabled = enabled
        self._wake.set()
        self._in_background(self._apply_camera_toggle())

    async def _apply_camera_toggle(self) -> None:
        # Serialised and applying the *latest* wish: a quick off/on/off converges.
        async with self._toggle_lock:
            if self._camera_enabled:
                self._capture.start()
                if not self._running and not self._stopping:
                    self.start()  # the source had ended: reading it again needs a new run
                return
            await asyncio.to_thread(self._capture.stop, 5.0, "disabled by command")
            await self._drain()
            await self._end_all()

    def _in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def snapshot(self) -> dict[str, Any]:
        """Counters for the node's ``stats`` message."""
        now = self._clock.monotonic()
        self._sync_capture(now)
        return self.stats.snapshot(now)

    # -- frame processing ----------------------------------------------------------------------

    async def _process(self, item: CapturedFrame) -> None:
        frame = item.frame
        now = frame.monotonic
        self._sync_capture(now)
        self.stats.frames_taken += 1
        self.latest_frame = frame
        self._check_generation(item.generation)
        due = [s for s in self._slots.values() if self._runnable(s) and s.limiter.ready(now)]
        if not due:
            self._motion.observe(item.thumb)
            self.stats.skipped_busy += 1
            await self._expire_all(frame)
            return
        decision = self._motion.check(item.thumb, now)
        # Open events keep the gate open: a person standing still must still be followed.
        if not decision.run and not any(s.lifecycle.active for s in self._slots.values()):
            self.stats.skipped_motion += 1
            await self._expire_all(frame)
            return
        self.stats.frames_analysed += 1
        self.stats.analysed_rate.mark(now)
        if self._capture.lossless:
            # Batch mode: finish this frame before taking the next, so no frame is skipped.
            if len(due) == 1:
                await self._run_one(due[0], frame, self._claim(due[0], frame))  # no task: cheaper
            else:
                await asyncio.gather(*[self._launch(s, frame) for s in due])
        else:
            for slot in due:
                self._launch(slot, frame)
        await self._expire_all(frame, skip={s.name for s in due})

    def _claim(self, slot: AnalyticSlot, frame: Frame) -> bool:
        """Mark the slot busy and take its rate-limit slot; returns whether to reset first."""
        slot.limiter.acquire(frame.monotonic)
        slot.busy = True
        reset, slot.reset_pending = slot.reset_pending, False
        return reset

    def _launch(self, slot: AnalyticSlot, frame: Frame) -> asyncio.Task[None]:
        reset = self._claim(slot, frame)
        task = asyncio.get_running_loop().create_task(self._run_one(slot, frame, reset))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def _run_one(self, slot: AnalyticSlot, frame: Frame, reset: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            result, ms = await loop.run_in_executor(
                self._executor, analyze, slot.analytic, frame, reset
            )
        except Exception:
            self._log_failure(slot)
            return
        finally:
            slot.busy = False
            self._wake.set()
        self.stats.record_run(slot.name, ms)
        if not slot.enabled or not self._camera_enabled:
            return  # toggled off while it ran: its events were already ended
        await self._emit(slot.lifecycle.observe(frame, result.observations))

    def _log_failure(self, slot: AnalyticSlot) -> None:
        self.stats.record_error(slot.name)
        n = self.stats.analytic_errors[slot.name]
        if n == 1 or n % _ERROR_LOG_EVERY == 0:
            log.exception("%s/%s: analyze failed (%d failures so far)", self.camera, slot.name, n)

    def _runnable(self, slot: AnalyticSlot) -> bool:
        if not slot.enabled or slot.busy:
            return False
        if not slot.factory.gated:
            return True
        if self._gate is None:
            return False
        try:
            return bool(self._gate.is_open(self.camera))
        except Exception:
            log.exception("%s: gate check failed; treating the gate as closed", self.camera)
            return False

    def _check_generation(self, generation: int) -> None:
        """A new generation means the source was reopened (reconnect or loop): trackers must
        not link objects across the gap, and the old background is meaningless."""
        if self._generation is not None and generation != self._generation:
            for slot in self._slots.values():
                slot.reset_pending = True
            self._motion.reset()
        self._generation = generation

    async def _restart_capture(self) -> None:
        """The capture thread is gone without ending (it crashed): give it a moment, restart."""
        log.warning(
            "%s: capture stopped unexpectedly (%s); restarting", self.camera, self._capture.state
        )
        await self._wait_wake(self._idle_timeout)
        if self._capture.finished and self._camera_enabled and not self._stopping:
            self._capture.start()

    async def _wait_capacity(self) -> None:
        """Live sources: take a frame only when some analytic can use it, so the analytic gets
        the newest frame when it frees up (older ones are overwritten and counted as dropped).
        With every analytic disabled we still take frames, for snapshots and stats."""
        while not self._stopping and self._camera_enabled:
            enabled = [s for s in self._slots.values() if s.enabled]
            if not enabled or any(not s.busy for s in enabled):
                return
            await self._wait_wake(self._idle_timeout)
            await self._expire_all()

    async def _wait_wake(self, timeout: float | None) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except asyncio.TimeoutError:
            return

    # -- events --------------------------------------------------------------------------------

    async def _expire_all(self, frame: Frame | None = None, skip: set[str] | None = None) -> None:
        """End tracks unseen for ``end_after_s`` on analytics that did not run this time."""
        mono = frame.monotonic if frame is not None else self._clock.monotonic()
        wall = frame.captured_at if frame is not None else self._clock.time()
        for slot in self._slots.values():
            if (skip and slot.name in skip) or not slot.lifecycle.active:
                continue
            await self._emit(slot.lifecycle.expire(mono, wall))

    async def _finish_analytics(self) -> None:
        """The source ended for good: analytics with a ``finish(t)`` hook (e.g. movement: a
        person still down when the video ends is a fall) report what that last moment means."""
        frame = self.latest_frame
        if frame is None:
            return
        loop = asyncio.get_running_loop()
        for slot in self._slots.values():
            finish = getattr(slot.analytic, "finish", None)
            if finish is None or not slot.enabled:
                continue
            try:
                observations = await loop.run_in_executor(
                    self._executor, finish, self._clock.monotonic()
                )
            except Exception:
                log.exception("%s: %s.finish failed", self.camera, slot.name)
                continue
            await self._emit(slot.lifecycle.observe(frame, list(observations)))

    async def _end_all(self) -> None:
        wall = self._clock.time()
        for slot in self._slots.values():
            await self._emit(slot.lifecycle.end_all(wall))

    async def _emit(self, emitted: list[EmittedEvent]) -> None:
        for item in emitted:
            try:
                await self._sink.emit(item.event, item.frame)
            except Exception:
                # The sink is the outbox: if it cannot store, say so loudly with the id.
                log.exception(
                    "%s: event %s (%s %s) could not be stored",
                    self.camera,
                    item.event.event_id,
                    item.event.type,
                    item.event.lifecycle,
                )
                continue
            self.stats.events += 1

    async def _drain(self) -> None:
        """Wait for analyses in flight (they cannot be cancelled inside the worker)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    # -- helpers -------------------------------------------------------------------------------

    def _sync_capture(self, now: float) -> None:
        read = self._capture.frames_read
        self.stats.read_rate.mark(now, read - self._last_read)
        self._last_read = read
        self.stats.frames_read = read
        self.stats.frames_dropped = self._capture.dropped
        self.stats.reconnects = self._capture.reconnects
        self.stats.now = now
