"""Rules where they are clearer than a model (pure, synchronous, driven by the caller's time).

* ``FallMachine`` (one per track): *upright* -> *descending* (the top of the box drops fast by a
  good part of the body height) -> *on the ground* (lying: box wider than tall, or very low; or
  the track vanished right after the drop -- detectors rarely see a person lying on the floor)
  -> *fallen* once on the ground for ``ground_s``. Getting back up before that (sitting down,
  bending, crouching to tie a shoe) returns to *upright*: no fall. So does moving away on the
  floor (crawling: the box travels more than ``crawl_distance`` body heights while low) and
  leaving the picture at the frame border -- a fallen person lies still. When the source ends
  (or the track is forgotten) while the person is down, ``finish`` confirms the fall with the
  evidence so far (``at_end``; a lower score): nothing says they got up.
* ``sustained``: a k-of-n vote over recent steps (running, fighting).
* ``fighting_pairs``: two tracks (not one person boxed twice) close together, moving fast:
  limbs relative to the body, or -- where the pose is too poor -- boxes changing shape fast.

Running (gait rhythm, stride per step) is ``node/movement/gait.py``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou


class FallState(str, Enum):
    UPRIGHT = "upright"
    DESCENDING = "descending"
    GROUND = "ground"
    FALLEN = "fallen"


@dataclass(frozen=True)
class FallParams:
    min_drop: float = 0.35  # the top of the box falls by this fraction of the upright height...
    descent_window_s: float = 1.5  # ...within this long...
    min_descent_speed: float = 0.6  # ...at least this fast (upright heights per second),
    classifier_fall: float = 0.5  # ...or slower, while the classifier says "fall" this surely
    lying_aspect: float = 1.0  # width / height at or over this: lying
    low_height: float = 0.5  # box height at or under this fraction of upright height: on the floor
    ground_s: float = 1.0  # on the ground this long after a descent: a fall
    ground_timeout_s: float = 2.5  # a descent not followed by the ground within this: not a fall
    recover_height: float = 0.8  # back to this fraction of upright height, taller than wide: up
    vanish_is_ground: bool = True  # a track lost after a fast descent counts as on the ground
    # a person lying after a fall stays in place: the box centre travelling this many upright
    # heights while on the ground is crawling or walking away hunched, not lying (a settling
    # body shifts its box centre by well under half a height)
    crawl_distance: float = 0.75

    def __post_init__(self) -> None:
        if not 0 < self.min_drop < 1 or not 0 < self.low_height < self.recover_height <= 1:
            raise ValueError("need 0 < min_drop < 1 and 0 < low_height < recover_height <= 1")
        if self.descent_window_s <= 0 or self.ground_s <= 0 or self.ground_timeout_s <= 0:
            raise ValueError("descent_window_s, ground_s and ground_timeout_s must be > 0")
        if self.crawl_distance <= 0:
            raise ValueError("crawl_distance must be > 0")


@dataclass(frozen=True)
class FallStatus:
    state: FallState
    descent_speed: float  # upright heights per second, of the triggering drop (0 before)
    drop: float  # fraction of the upright height the top fell
    time_on_ground_s: float
    upright_height_px: float
    at_end: bool = False  # confirmed by ``finish``: down when the source ended (less certain)

    @property
    def fallen(self) -> bool:
        return self.state is FallState.FALLEN


class FallMachine:
    def __init__(self, params: FallParams | None = None) -> None:
        self.p = params or FallParams()
        self._hist: deque[tuple[float, float, float]] = deque()  # (t, top, height)
        self.state = FallState.UPRIGHT
        self._ref_h = 0.0
        self._drop = 0.0
        self._speed = 0.0
        self._descent_t = 0.0
        self._ground_since: float | None = None
        self._ground_x: float | None = None  # box centre x when the ground phase began
        self._last_t = 0.0
        self._at_end = False

    def status(self, t: float) -> FallStatus:
        on_ground = 0.0 if self._ground_since is None else max(0.0, t - self._ground_since)
        return FallStatus(self.state, self._speed, self._drop, on_ground, self._ref_h,
                          self._at_end)

    def finish(self, t: float) -> FallStatus:
        """The source ended (or the track is being forgotten) at ``t``. A person seen going down
        fast and then on the ground who has not got up by now is confirmed fallen, whatever the
        time on the ground: the stream gives no further chance to see them rise. A descent
        that never reached the ground is not enough."""
        if self.state is FallState.GROUND and self._ground_since is not None:
            self.state = FallState.FALLEN
            self._at_end = True
        return self.status(t)

    def update(self, t: float, box: npt.NDArray[np.float32], fall_prob: float = 0.0
               ) -> FallStatus:
        """The track was seen at ``t`` with ``box`` (xyxy pixels); ``fall_prob`` is the
        temporal classifier's latest probability of "fall" for it (0 when unknown)."""
        top, h = float(box[1]), float(max(box[3] - box[1], 1.0))
        w = float(max(box[2] - box[0], 1.0))
        self._last_t = t
        if self.state is FallState.UPRIGHT:
            self._hist.append((t, top, h))
            while self._hist and t - self._hist[0][0] > max(3.0, self.p.descent_window_s):
                self._hist.popleft()
            self._ref_h = max(hh for _, _, hh in self._hist)
            self._check_descent(t, top, fall_prob)
            return self.status(t)
        upright = h >= self.p.recover_height * self._ref_h and h > w
        if upright and self.state is not FallState.FALLEN:
            self._reset(t, top, h)  # got up (or never went down): sitting, bending
            return self.status(t)
        if self.state is FallState.FALLEN:
            if upright:
                self._reset(t, top, h)
            return self.status(t)
        lying = w / h >= self.p.lying_aspect or h <= self.p.low_height * self._ref_h
        cx = float(box[0] + box[2]) / 2
        if self._ground_x is not None and \
                abs(cx - self._ground_x) > self.p.crawl_distance * self._ref_h:
            self._reset(t, None, None)  # moving away on the floor: not lying still
            return self.status(t)
        # lying starts the count; once down, anything short of standing up keeps it going
        self._ground_step(t, lying or self.state is FallState.GROUND)
        if self._ground_since is not None and self._ground_x is None:
            self._ground_x = cx
        return self.status(t)

    def missing(self, t: float, left_picture: bool = False) -> FallStatus:
        """The track was not seen at ``t`` (lost by the detector or the tracker);
        ``left_picture``: it was last seen at the frame border, so it may simply have walked
        out, which is no evidence of lying."""
        self._last_t = t
        if self.state in (FallState.DESCENDING, FallState.GROUND):
            if left_picture:
                # gone out of the picture while down: they moved (crawled, got up and walked
                # out of view), which lying people do not do -- no fall to confirm
                self._reset(t, None, None)
            else:
                self._ground_step(t, self.p.vanish_is_ground)
        return self.status(t)

    def _check_descent(self, t: float, top: float, fall_prob: float) -> None:
        recent = [(tt, tp) for tt, tp, _ in self._hist if t - tt <= self.p.descent_window_s]
        top_hi = min(tp for _, tp in recent)  # highest point (smallest y) lately...
        # ...and the last moment the top was still up there: the descent started then. The
        # body's height at that moment is the reference (someone walking away shrinks).
        near = 0.03 * self._ref_h
        t_hi, _, h_hi = max(r for r in self._hist
                            if t - r[0] <= self.p.descent_window_s and r[1] <= top_hi + near)
        drop = (top - top_hi) / max(h_hi, 1.0)
        speed = drop / max(t - t_hi, 1e-3)
        # a slumping fall (the elderly often crumple rather than topple) is slower than a
        # topple: the classifier's view of the whole window then vouches for it
        fast = speed >= self.p.min_descent_speed or fall_prob >= self.p.classifier_fall
        if drop >= self.p.min_drop and fast:
            self._ref_h = h_hi
            self.state = FallState.DESCENDING
            self._drop, self._speed, self._descent_t = drop, speed, t

    def _ground_step(self, t: float, on_ground: bool) -> None:
        if on_ground:
            if self._ground_since is None:
                self._ground_since = t
            self.state = FallState.GROUND
            if t - self._ground_since >= self.p.ground_s:
                self.state = FallState.FALLEN
        elif self._ground_since is None and t - self._descent_t > self.p.ground_timeout_s:
            self._reset(t, None, None)

    def _reset(self, t: float, top: float | None, h: float | None) -> None:
        self.state = FallState.UPRIGHT
        self._ground_since = None
        self._ground_x = None
        self._at_end = False
        self._drop = self._speed = 0.0
        self._hist.clear()
        if top is not None and h is not None:
            self._hist.append((t, top, h))


def sustained(flags: npt.NDArray[np.bool_], k: int) -> bool:
    """At least ``k`` of the given recent steps are set."""
    return int(np.count_nonzero(flags)) >= k


@dataclass(frozen=True)
class FightParams:
    max_distance: float = 1.0  # centre distance at most this many (larger) body heights
    min_limb_speed: float = 0.5  # mean motion of the pair, body heights per second
    min_score: float = 0.5  # and the classifier's fight probability of either of them
    # two boxes overlapping this much are one person tracked twice (a detector double), not two
    # people: grappling bodies overlap, but not to the point of sharing one box
    same_person_iou: float = 0.7


def fighting_pairs(
    boxes: npt.NDArray[np.float32],
    motion: npt.NDArray[np.float32],
    fight_prob: npt.NDArray[np.float32],
    params: FightParams,
) -> list[tuple[int, int]]:
    """Index pairs (i < j) of people close together, moving fast and with a confident
    classifier. ``boxes`` (n, 4) xyxy; ``motion`` per person in body heights per second (limb
    speed relative to the body, or the box's shape change where the pose is too poor)."""
    n = boxes.shape[0]
    overlap = box_iou(boxes, boxes)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    heights = boxes[:, 3] - boxes[:, 1]
    out: list[tuple[int, int]] = []
    for i in range(n):
        for j in range(i + 1, n):
            scale = float(max(heights[i], heights[j], 1.0))
            dist = float(np.hypot(*(centres[i] - centres[j]))) / scale
            if dist > params.max_distance or overlap[i, j] >= params.same_person_iou:
                continue
            pair_motion = float(motion[i] + motion[j]) / 2
            # one attacker is often far busier than the one defending: either may carry it
            prob = float(max(fight_prob[i], fight_prob[j]))
            if pair_motion >= params.min_limb_speed and prob >= params.min_score:
                out.append((i, j))
    return out
