"""Per-camera counters for the node's ``stats`` message."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Windows: long enough to smooth frame jitter, short enough that a stalled camera reads 0 fps
# within a few seconds.
FPS_WINDOW_S = 5.0
LATENCY_SAMPLES = 256
EMA_ALPHA = 0.1


class RateMeter:
    """Events per second over the last ``window_s`` seconds (monotonic time).

    ``mark(now, n)`` records ``n`` events at ``now``, so a counter kept elsewhere (the capture
    thread's ``frames_read``) can be fed as deltas.
    """

    def __init__(self, window_s: float = FPS_WINDOW_S) -> None:
        self._window = window_s
        self._marks: deque[tuple[float, int]] = deque()
        self._count = 0  # events in _marks after the first one

    def mark(self, now: float, n: int = 1) -> None:
        if n <= 0:
            return
        if self._marks:
            self._count += n
        self._marks.append((now, n))
        self._prune(now)

    def rate(self, now: float) -> float:
        self._prune(now)
        if len(self._marks) < 2:
            return 0.0
        span = max(now, self._marks[-1][0]) - self._marks[0][0]
        return self._count / span if span > 0 else 0.0

    def _prune(self, now: float) -> None:
        while self._marks and now - self._marks[0][0] > self._window:
            self._marks.popleft()
            if self._marks:
                self._count -= self._marks[0][1]  # the new first mark opens the window
            else:
                self._count = 0


@dataclass
class LatencyStats:
    """Inference time of one analytic: EMA and percentiles of the last samples, milliseconds."""

    count: int = 0
    ema_ms: float | None = None
    _samples: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    def add(self, ms: float) -> None:
        self.count += 1
        self.ema_ms = ms if self.ema_ms is None else self.ema_ms + EMA_ALPHA * (ms - self.ema_ms)
        self._samples.append(ms)

    def snapshot(self) -> dict[str, Any]:
        if not self._samples:
            return {"count": self.count, "ema_ms": None, "p50_ms": None, "p95_ms": None}
        p50, p95 = np.percentile(np.fromiter(self._samples, dtype=np.float64), [50, 95])
        return {
            "count": self.count,
            "ema_ms": round(float(self.ema_ms or 0.0), 3),
            "p50_ms": round(float(p50), 3),
            "p95_ms": round(float(p95), 3),
        }


@dataclass
class CameraStats:
    """Counters of one camera. ``frames_read``, ``frames_dropped`` and ``reconnects`` mirror the
    capture thread's counters (the pipeline copies them); everything else is counted on the
    event loop, so no lock is needed."""

    camera: str
    frames_read: int = 0  # decoded by the capture thread
    frames_dropped: int = 0  # overwritten in the mailbox before the pipeline took them
    frames_taken: int = 0  # taken by the pipeline
    frames_analysed: int = 0  # taken and given to at least one analytic
    skipped_motion: int = 0  # taken, but the scene was static
    skipped_busy: int = 0  # taken, but every due analytic was still busy or rate-limited
    reconnects: int = 0
    events: int = 0
    state: str = "starting"
    analytic_runs: dict[str, int] = field(default_factory=dict)
    analytic_errors: dict[str, int] = field(default_factory=dict)
    inference: dict[str, LatencyStats] = field(default_factory=dict)
    read_rate: RateMeter = field(default_factory=RateMeter)
    analysed_rate: RateMeter = field(default_factory=RateMeter)
    now: float = 0.0  # monotonic time of the latest update, for the fps windows

    def record_run(self, analytic: str, ms: float) -> None:
        self.analytic_runs[analytic] = self.analytic_runs.get(analytic, 0) + 1
        self.inference.setdefault(analytic, LatencyStats()).add(ms)

    def record_error(self, analytic: str) -> None:
        self.analytic_errors[analytic] = self.analytic_errors.get(analytic, 0) + 1

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """A JSON-serialisable copy for the ``stats`` message."""
        t = self.now if now is None else now
        return {
            "camera": self.camera,
            "state": self.state,
            "fps": round(self.read_rate.rate(t), 2),
            "analysed_fps": round(self.analysed_rate.rate(t), 2),
            "frames_read": self.frames_read,
            "frames_taken": self.frames_taken,
            "frames_analysed": self.frames_analysed,
            "frames_dropped": self.frames_dropped,
            "skipped_motion": self.skipped_motion,
            "skipped_busy": self.skipped_busy,
            "reconnects": self.reconnects,
            "events": self.events,
            "analytics": {
                name: {
                    "runs": self.analytic_runs.get(name, 0),
                    "errors": self.analytic_errors.get(name, 0),
                    "inference": lat.snapshot(),
                }
                for name, lat in sorted(self.inference.items())
            }
            | {
                name: {"runs": 0, "errors": n, "inference": LatencyStats().snapshot()}
                for name, n in self.analytic_errors.items()
                if name not in self.inference
            },
        }
