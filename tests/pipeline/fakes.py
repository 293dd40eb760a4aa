"""Fakes for pipeline tests: scripted analytics, a hand-fed frame feed, a recording sink."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from node.analytics.base import AnalysisResult, Analytic, Observation
from node.frame import Frame, Image
from node.sources.capture import CapturedFrame, SourceStatus, StatusListener
from node.thumbnail import grey_thumbnail
from schemas.config.analytics import AnalyticConfig
from schemas.events import Event
from tests.contract.recorded import typed_attributes

Script = Callable[[Frame], list[Observation]]


def no_observations(frame: Frame) -> list[Observation]:
    return []


class FakeAnalytic:
    """Runs ``script``; records calls, resets and how many calls overlapped."""

    def __init__(self, name: str, script: Script, hook: Callable[[], object] | None = None) -> None:
        self.name = name
        self._script = script
        self._hook = hook
        self._lock = threading.Lock()
        self.calls: list[int] = []  # frame indexes
        self.resets = 0
        self.active = 0
        self.max_active = 0
        self.fail_on: set[int] = set()

    def analyze(self, frame: Frame) -> AnalysisResult:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append(frame.index)
        try:
            if self._hook is not None:
                self._hook()
            if frame.index in self.fail_on:
                raise RuntimeError(f"scripted failure on frame {frame.index}")
            return AnalysisResult(analytic=self.name, outputs={}, observations=self._script(frame))
        finally:
            with self._lock:
                self.active -= 1

    def reset(self) -> None:
        self.resets += 1


class FakeFactory:
    def __init__(
        self,
        name: str,
        script: Script = no_observations,
        *,
        fps: float = 1000.0,
        enabled: bool = True,
        cameras: list[str] | None = None,
        update_interval_s: float = 5.0,
        end_after_s: float = 1.0,
        gated: bool = False,
        hook: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.config = AnalyticConfig(
            enabled=enabled, fps=fps, cameras=cameras, update_interval_s=update_interval_s
        )
        self.gated = gated
        self.end_after_s = end_after_s
        self.model_label: str | None = f"{name}@1"
        self._script = script
        self._hook = hook
        self.created: dict[str, FakeAnalytic] = {}

    def create(self, camera: str) -> Analytic:
        a = FakeAnalytic(self.name, self._script, self._hook)
        self.created[camera] = a
        return a

    def close(self) -> None:
        return None


@dataclass
class RecordingSink:
    events: list[tuple[Event, Frame | None]] = field(default_factory=list)
    fail: bool = False

    async def emit(self, event: Event, snapshot_frame: Frame | None) -> None:
        if self.fail:
            raise OSError("disk full")
        self.events.append((event, snapshot_frame))

    def lifecycles(self) -> list[str]:
        return [e.lifecycle.value for e, _ in self.events]


@dataclass
class StatusLog:
    items: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, camera: str, status: dict[str, Any]) -> None:
        self.items.append(status)
        self.changed.set()

    @property
    def states(self) -> list[str]:
        return [s["state"] for s in self.items]


class ManualFeed:
    """A FrameFeed the test pushes frames into (stands in for LatestFrameCapture)."""

    def __init__(self, camera: str = "cam1", *, lossless: bool = True, motion: bool = False):
        self.camera = camera
        self._lossless = lossless
        self._motion = motion
        self._queue: asyncio.Queue[CapturedFrame | None] = asyncio.Queue()
        self._finished = False
        self._state = "starting"
        self.frames_read = 0
        self.dropped = 0
        self.reconnects = 0
        self.listeners: list[StatusListener] = []
        self.starts = 0
        self.stops: list[str | None] = []

    @property
    def lossless(self) -> bool:
        return self._lossless

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def state(self) -> str:
        return self._state

    def add_listener(self, listener: StatusListener) -> None:
        self.listeners.append(listener)

    def start(self) -> None:
        self.starts += 1
        self._finished = False
        self._state = "online"

    def stop(self, timeout: float = 5.0, reason: str | None = None) -> None:
        self.stops.append(reason)
        self._finished = True
        self._state = "stopped"

    def push(self, image: Image, t: float, index: int | None = None, generation: int = 1) -> None:
        idx = self.frames_read if index is None else index
        frame = Frame("cam1", idx, image, captured_at=1_700_000_000.0 + t, monotonic=t)
        thumb = grey_thumbnail(image) if self._motion else None
        self.frames_read += 1
        self._queue.put_nowait(CapturedFrame(frame, generation, thumb))

    def end(self) -> None:
        self._state = "ended"
        self._finished = True
        self._queue.put_nowait(None)

    def status(self, status: SourceStatus) -> None:
        for listener in self.listeners:
            listener(status)

    async def take(self, timeout: float | None = None) -> CapturedFrame | None:
        if self._finished and self._queue.empty():
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None


async def until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition the pipeline task will make true; fail with the timeout otherwise."""
    for _ in range(int(timeout / 0.002)):
        if pred():
            return
        await asyncio.sleep(0.002)
    assert pred(), "condition not reached in time"


def grey(value: int) -> Image:
    return np.full((90, 160, 3), value, dtype=np.uint8)


def obs(key: str, score: float = 0.9) -> Observation:
    return Observation(key=key, type="object", label="car", score=score,
                       attributes=typed_attributes("object"))
