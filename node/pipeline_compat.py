"""A minimal per-camera loop, used by ``Node`` until ``node.pipeline.CameraPipeline`` lands.

TODO(pipeline): replace with ``node.pipeline`` (motion gate, source reconnects, status topics).
This loop only does what the runtime needs end to end: an OpenCV capture thread that keeps the
latest frame (older ones are dropped and counted), per-analytic rate limits, inference in a
thread pool, the ``EventLifecycle`` per (camera, analytic), and events handed to the sink.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from node.analytics.base import Analytic, AnalyticFactory
from node.clock import Clock
from node.frame import Frame, Image
from node.lifecycle import EmittedEvent, EventLifecycle
from schemas.config.camera import CameraConfig
from schemas.events import Event

log = logging.getLogger(__name__)


class EventSink(Protocol):
    async def emit(self, event: Event, snapshot_frame: Frame | None) -> None: ...


StatusCallback = Callable[[str, str], Awaitable[None]]


@dataclass
class _Latest:
    """The capture thread's hand-off slot: only the newest frame is kept."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    frame: Frame | None = None
    captured: int = 0
    dropped: int = 0  # captured but overwritten before the loop took them
    ended: bool = False
    error: str | None = None


@dataclass
class _Slot:
    factory: AnalyticFactory
    analytic: Analytic
    lifecycle: EventLifecycle
    enabled: bool = True
    next_due: float = 0.0
    inference_ms: float = 0.0
    runs: int = 0


def _open_capture(source: str) -> cv2.VideoCapture:
    arg: int | str = int(source) if source.isdigit() else source
    return cv2.VideoCapture(arg)


class CompatPipeline:
    def __init__(
        self,
        node_id: str,
        camera: CameraConfig,
        factories: list[AnalyticFactory],
        sink: EventSink,
        executor: Executor,
        clock: Clock,
        on_status: StatusCallback | None = None,
    ) -> None:
        self.name = camera.name
        self._camera = camera
        self._sink = sink
        self._executor = executor
        self._clock = clock
        self._on_status = on_status
        self.enabled = camera.enabled
        self._slots = [
            _Slot(
                f,
                f.create(camera.name),
                EventLifecycle(
                    node_id,
                    camera.name,
                    update_interval_s=f.config.update_interval_s,
                    end_after_s=f.end_after_s,
                    model_label=f.model_label,
                ),
            )
            for f in factories
            if f.config.cameras is None or camera.name in f.config.cameras
        ]
        self._latest = _Latest()
        self._new_frame = asyncio.Event()
        self._stop = threading.Event()
        self._processed = 0
        self._last_image: Image | None = None

    # -- control (RuntimeControl delegates here) ----------------------------------------------

    @property
    def analytics(self) -> list[str]:
        return [s.factory.name for s in self._slots]

    def set_analytic_enabled(self, name: str, enabled: bool) -> bool:
        found = False
        for s in self._slots:
            if s.factory.name == name:
                s.enabled, found = enabled, True
        return found

    def latest_image(self) -> Image | None:
        return self._last_image

    def stats(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "frames": self._latest.captured,
            "processed": self._processed,
            "dropped": self._latest.dropped,
            "inference_ms": {s.factory.name: round(s.inference_ms, 2) for s in self._slots},
            "ended": self._latest.ended,
            "error": self._latest.error,
        }

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._capture, args=(loop,), name=f"capture-{self.name}", daemon=True
        )
        thread.start()
        await self._status("online")
        try:
            await self._consume()
        finally:
            self._stop.set()
            await self._finish()
            await self._status("offline" if self._latest.error else "ended")

    async def _consume(self) -> None:
        while True:
            await self._new_frame.wait()
            self._new_frame.clear()
            with self._latest.lock:
                frame, self._latest.frame = self._latest.frame, None
                ended = self._latest.ended
            if frame is not None:
                self._processed += 1
                self._last_image = frame.image
                if self.enabled:
                    await self._analyse(frame)
            elif ended:
                return

    async def _analyse(self, frame: Frame) -> None:
        loop = asyncio.get_running_loop()
        for slot in self._slots:
            if not slot.enabled or frame.monotonic < slot.next_due:
                continue
            slot.next_due = frame.monotonic + 1.0 / slot.factory.config.fps
            t0 = time.perf_counter()
            result = await loop.run_in_executor(self._executor, slot.analytic.analyze, frame)
            slot.runs += 1
            # The analytic's own figure (model only) when it reports one, else the wall time.
            slot.inference_ms = result.inference_ms or (time.perf_counter() - t0) * 1000.0
            for emitted in slot.lifecycle.observe(frame, result.observations):
                await self._emit(emitted)

    async def _emit(self, emitted: EmittedEvent) -> None:
        await self._sink.emit(emitted.event, emitted.frame)

    async def _finish(self) -> None:
        now = self._clock.time()
        for slot in self._slots:
            for emitted in slot.lifecycle.end_all(now):
                await self._emit(emitted)

    async def _status(self, state: str) -> None:
        if self._on_status is not None:
            await self._on_status(self.name, state)

    # -- capture thread -------------------------------------------------------------------------

    def _capture(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._capture_frames(loop)
        except Exception as err:  # reported in stats/status; the node keeps running
            log.exception("camera %s: capture failed", self.name)
            self._latest.error = str(err)
        finally:
            self._latest.ended = True
            loop.call_soon_threadsafe(self._new_frame.set)

    def _capture_frames(self, loop: asyncio.AbstractEventLoop) -> None:
        cap = _open_capture(self._camera.source)
        if not cap.isOpened():
            raise RuntimeError(f"cannot open source {self._camera.source!r}")
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        period = 1.0 / fps if self._camera.realtime and 0 < fps < 240 else 0.0
        index, next_at = 0, time.monotonic()
        try:
            while not self._stop.is_set():
                ok, image = cap.read()
                if not ok:
                    if self._camera.loop and index > 0:
                        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        continue
                    return
                self._hand_off(loop, np.asarray(image, dtype=np.uint8), index)
                index += 1
                if period:
                    next_at += period
                    time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            cap.release()

    def _hand_off(self, loop: asyncio.AbstractEventLoop, image: Image, index: int) -> None:
        frame = Frame(self.name, index, image, self._clock.time(), self._clock.monotonic())
        with self._latest.lock:
            if self._latest.frame is not None:
                self._latest.dropped += 1
            self._latest.frame = frame
            self._latest.captured += 1
        loop.call_soon_threadsafe(self._new_frame.set)
