"""Test doubles for sources: scripted frames, scripted failures, a clock that the reads move."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from node.clock import ManualClock
from node.frame import Image
from node.sources.base import FrameSource, SourceEnded, SourceError, SourceUnavailable
from schemas.config.camera import CameraConfig


def solid(value: int, h: int = 48, w: int = 64) -> Image:
    return np.full((h, w, 3), value % 256, dtype=np.uint8)


def square_at(x: int, h: int = 90, w: int = 160, size: int = 20) -> Image:
    """A grey scene with a white square at column ``x``: moving it makes motion."""
    img = np.full((h, w, 3), 60, dtype=np.uint8)
    img[30 : 30 + size, x : x + size] = 255
    return img


class ScriptedSource:
    """A finite or live source returning ``images`` in order, then ending.

    ``advance`` moves a shared ManualClock per read, so frame timestamps are deterministic.
    """

    def __init__(
        self,
        images: list[Image],
        *,
        finite: bool = True,
        fps: float | None = None,
        clock: ManualClock | None = None,
        advance: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self._images = images
        self.finite = finite
        self._fps = fps
        self._clock = clock
        self._advance = advance
        self._fail_after = fail_after
        self.description = "scripted"
        self._i = 0
        self.opened = 0
        self.closed = 0

    @property
    def fps(self) -> float | None:
        return self._fps

    def open(self) -> None:
        self.opened += 1
        self._i = 0

    def read(self) -> Image:
        if self._fail_after is not None and self._i >= self._fail_after:
            raise SourceUnavailable(self.description, "scripted loss")
        if self._i >= len(self._images):
            raise SourceEnded(self.description, "end")
        img = self._images[self._i]
        self._i += 1
        if self._clock is not None and self._advance:
            self._clock.advance(self._advance)
        return img

    def close(self) -> None:
        self.closed += 1


class ScriptedOpener:
    """``opener(config)``: raises the scripted errors first, then returns ``source``."""

    def __init__(self, source: FrameSource, errors: Sequence[SourceError] | None = None) -> None:
        self._source = source
        self._errors: Iterator[SourceError] = iter(errors or [])
        self.calls = 0

    def __call__(self, config: CameraConfig) -> FrameSource:
        self.calls += 1
        err = next(self._errors, None)
        if err is not None:
            raise err
        return self._source


class RecordingWait:
    """Replaces the capture's wait: records delays, moves the clock, never sleeps."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.delays: list[float] = []
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> bool:
        with self._lock:
            self.delays.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds)
        return False


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll a condition set by another thread; the condition, not the time, is asserted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return pred()
