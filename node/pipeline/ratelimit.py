"""Per-analytic rate limit: at most ``fps`` analyses per second per camera."""

from __future__ import annotations

import math

# Frame timestamps jitter by microseconds; without slack a frame that arrives a hair before
# its slot would be refused and a 5 fps analytic on a 25 fps camera would run at ~4.2 fps.
_EPSILON_S = 1e-6


class RateLimiter:
    """Slot scheduler: a run is allowed once ``now`` reaches the next slot, and the next slot is
    one interval after the previous *slot* (not after the run), so jittery frame times still
    average ``fps``. After a long pause the schedule restarts from now: no burst to catch up.
    """

    def __init__(self, fps: float) -> None:
        if not fps > 0 or not math.isfinite(fps):
            raise ValueError(f"fps must be a positive finite number, got {fps!r}")
        self.interval = 1.0 / fps
        self._next = -math.inf

    def ready(self, now: float) -> bool:
        """True when a run at ``now`` is allowed (does not take the slot)."""
        return now + _EPSILON_S >= self._next

    def acquire(self, now: float) -> bool:
        """Take the slot if ``ready``; returns whether the caller may run."""
        if not self.ready(now):
            return False
        late = now - self._next
        self._next = self._next + self.interval if late < self.interval else now + self.interval
        return True

    def reset(self) -> None:
        self._next = -math.inf
