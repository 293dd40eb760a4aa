"""A cheap motion gate: skip inference while the scene is static.

The expensive half (downscale + grey + blur of the full frame) is ``node.thumbnail``, a pure
function the capture thread runs off the event loop; the gate itself compares two 160-pixel-wide
thumbnails, which costs microseconds on the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from node.thumbnail import Grey
from schemas.config.camera import MotionConfig

# Weight of the newest thumbnail in the running background. Slow enough that a walking person
# stands out for several frames, fast enough that a light change is absorbed within seconds.
BACKGROUND_ALPHA = 0.1


def changed_fraction(background: npt.NDArray[np.float32], thumb: Grey, pixel_delta: int) -> float:
    """Fraction of pixels whose grey level differs from the background by ``pixel_delta``+."""
    if background.shape != thumb.shape:
        raise ValueError(
            f"thumbnail shape {thumb.shape} differs from background shape {background.shape}"
        )
    diff = np.abs(thumb.astype(np.float32) - background)
    return float(np.count_nonzero(diff >= pixel_delta)) / float(diff.size)


@dataclass(frozen=True)
class MotionDecision:
    run: bool  # analyse this frame
    reason: str  # "motion", "keepalive", "static", "disabled", "first", "reset"
    fraction: float


class MotionGate:
    """Per-camera gate. ``check(thumb, now)`` says whether this frame is worth analysing.

    The background is a running average of thumbnails, so slow drifts (clouds, dusk) fade in
    while anything that moves between a few frames exceeds ``threshold``. ``keepalive_s`` lets
    a frame through on a static scene now and then so analytics still see it.
    """

    def __init__(self, config: MotionConfig) -> None:
        self._config = config
        self._background: npt.NDArray[np.float32] | None = None
        self._last_pass: float | None = None

    def reset(self) -> None:
        """Forget the background (the source reconnected or looped: the scene may differ)."""
        self._background = None

    def check(self, thumb: Grey | None, now: float) -> MotionDecision:
        if not self._config.enabled or thumb is None:
            return self._pass("disabled", 0.0, now)
        if self._background is None or self._background.shape != thumb.shape:
            self._background = thumb.astype(np.float32)
            return self._pass("first", 1.0, now)
        fraction = changed_fraction(self._background, thumb, self._config.pixel_delta)
        cv2.accumulateWeighted(thumb, self._background, BACKGROUND_ALPHA)
        if fraction >= self._config.threshold and fraction > 0.0:
            return self._pass("motion", fraction, now)
        keepalive = self._config.keepalive_s
        if keepalive > 0 and (self._last_pass is None or now - self._last_pass >= keepalive):
            return self._pass("keepalive", fraction, now)
        return MotionDecision(False, "static", fraction)

    def observe(self, thumb: Grey | None) -> None:
        """Fold a frame into the background without deciding (no analytic was due anyway), so
        the next decision compares against a current background and keepalive is not spent."""
        if thumb is None or not self._config.enabled:
            return
        if self._background is None or self._background.shape != thumb.shape:
            self._background = thumb.astype(np.float32)
            return
        cv2.accumulateWeighted(thumb, self._background, BACKGROUND_ALPHA)

    def _pass(self, reason: str, fraction: float, now: float) -> MotionDecision:
        self._last_pass = now
        return MotionDecision(True, reason, fraction)
