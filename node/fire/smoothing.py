"""Temporal smoothing of per-frame scores into an alarm: k-of-n to raise, hysteresis to clear.

A single bright frame (headlights, a sunset flare) must not raise an alarm, and a flickering score
around the threshold must not toggle it: the alarm rises when at least ``k`` of the last ``n``
analysed frames score at or above ``on_threshold``; once raised it holds while at least
``hold_k`` of the last ``n`` frames score at or above the lower ``off_threshold``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SmoothingParams:
    k: int
    n: int
    on_threshold: float
    off_threshold: float
    hold_k: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise ValueError(f"need 1 <= k <= n, got k={self.k} n={self.n}")
        if not 1 <= self.hold_k <= self.n:
            raise ValueError(f"need 1 <= hold_k <= n, got hold_k={self.hold_k} n={self.n}")
        if not 0.0 <= self.off_threshold <= self.on_threshold <= 1.0:
            raise ValueError(
                "need 0 <= off_threshold <= on_threshold <= 1, got "
                f"off={self.off_threshold} on={self.on_threshold}"
            )


class KOfNAlarm:
    """One alarm (one class on one camera). Feed it every analysed frame's score."""

    def __init__(self, params: SmoothingParams) -> None:
        self.params = params
        self._scores: deque[float] = deque(maxlen=params.n)
        self.active = False

    def update(self, score: float) -> bool:
        """Add a score; return whether the alarm is active after it."""
        p = self.params
        self._scores.append(float(score))
        if self.active:
            self.active = self._count(p.off_threshold) >= p.hold_k
        else:
            self.active = self._count(p.on_threshold) >= p.k
        return self.active

    def reset(self) -> None:
        self._scores.clear()
        self.active = False

    @property
    def hits(self) -> int:
        """Frames in the window at or above the raising threshold."""
        return self._count(self.params.on_threshold)

    def _count(self, threshold: float) -> int:
        return sum(1 for s in self._scores if s >= threshold)
