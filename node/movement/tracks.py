"""A tracked person in the movement analytic: its recent history and what was decided about it.

``PersonTrack`` keeps about ``HISTORY_S`` of boxes, keypoints and camera offsets (the series the
feature windows are cut from), the action votes and classifier probabilities, and the fall
machine; ``match_poses`` gives each track box its skeleton.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou
from node.movement.features import Series
from node.movement.pose import NUM_KEYPOINTS, Poses
from node.movement.rules import FallMachine
from node.track.assignment import linear_assignment

BORDER = 0.02  # fraction of the frame: a track lost at the border left the picture
HISTORY_S = 4.0  # longer than any window: 24 steps at 8 Hz is 3 s


@dataclass
class PersonTrack:
    """One tracked person's recent history (stabilised by the camera's pan) and decisions."""

    tid: int
    fall: FallMachine
    times: deque[float] = field(default_factory=deque)
    boxes: deque[npt.NDArray[np.float32]] = field(default_factory=deque)
    kps: deque[npt.NDArray[np.float32]] = field(default_factory=deque)
    offsets: deque[npt.NDArray[np.float32]] = field(default_factory=deque)  # camera pan (x, y)
    votes: dict[str, deque[bool]] = field(default_factory=dict)
    probs: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, float] = field(default_factory=dict)
    last_seen: float = 0.0
    escalated: set[str] = field(default_factory=set)
    counted: set[str] = field(default_factory=set)

    def add(self, t: float, box: npt.NDArray[np.float32], kps: npt.NDArray[np.float32],
            offset: npt.NDArray[np.float32]) -> None:
        self.times.append(t)
        self.boxes.append(box)
        self.kps.append(kps)
        self.offsets.append(offset)
        self.last_seen = t
        while self.times and t - self.times[0] > HISTORY_S:
            self.times.popleft()
            self.boxes.popleft()
            self.kps.popleft()
            self.offsets.popleft()

    def series(self) -> Series:
        """The history in stabilised coordinates (the camera's pan taken out), so speeds are
        speeds over the ground."""
        off = np.stack(self.offsets)
        kps = np.stack(self.kps).copy()
        kps[:, :, :2] -= off[:, None, :]
        return Series(np.asarray(self.times, np.float32),
                      (np.stack(self.boxes) - np.tile(off, 2)).astype(np.float32), kps)

    def vote(self, action: str, flag: bool, n: int) -> deque[bool]:
        q = self.votes.setdefault(action, deque(maxlen=n))
        q.append(flag)
        return q


def match_poses(boxes: npt.NDArray[np.float32], poses: Poses, min_iou: float
                ) -> npt.NDArray[np.float32]:
    """Keypoints ``(N, 17, 3)`` for each track box (score 0 where no pose matched)."""
    out = np.zeros((boxes.shape[0], NUM_KEYPOINTS, 3), np.float32)
    if boxes.shape[0] == 0 or len(poses) == 0:
        return out
    iou = box_iou(boxes, poses.boxes)
    matches, _, _ = linear_assignment((1.0 - iou).astype(np.float64), 1.0 - min_iou)
    for r, c in matches:
        out[r] = poses.keypoints[c]
    return out


def at_border(box: npt.NDArray[np.float32], frame_hw: tuple[int, int]) -> bool:
    h, w = frame_hw
    mx, my = BORDER * w, BORDER * h
    return bool(box[0] <= mx or box[1] <= my or box[2] >= w - mx or box[3] >= h - my)


def centre_distance(a: PersonTrack, b: PersonTrack) -> float:
    ba, bb = a.boxes[-1], b.boxes[-1]
    return float(np.hypot((ba[0] + ba[2] - bb[0] - bb[2]) / 2, (ba[1] + ba[3] - bb[1] - bb[3]) / 2))
