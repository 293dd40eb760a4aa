"""ByteTrack-style multi-object tracker: synchronous, pure, one id counter per instance.

Each ``update`` takes the detections of one frame and its time, and returns the tracked
detections (a new object with ``tracker_id``; the input is never mutated). Association:

1. high-score detections (``score >= high_threshold``) against every live track (tracked or
   recently lost), IoU with the track's *predicted* box;
2. low-score detections against the tracks still unmatched that were tracked last frame
   (ByteTrack's insight: a person half-occluded scores low but is still that person);
3. unmatched high-score detections over ``new_track_threshold`` start new tracks.

Motion is constant velocity in pixels per second (exponentially smoothed), so frames analysed at
an irregular rate still predict correctly. Detections only match tracks of the same class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou
from node.detect.detections import Detections
from node.track.assignment import linear_assignment

Box = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TrackerParams:
    high_threshold: float = 0.5
    low_threshold: float = 0.1
    new_track_threshold: float = 0.5
    match_iou: float = 0.2  # least IoU for a first-stage match
    low_match_iou: float = 0.5  # least IoU for a second-stage (low score) match
    lost_after_s: float = 1.5  # a track unmatched this long is dropped
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_threshold <= self.high_threshold <= 1.0:
            raise ValueError(
                f"need 0 <= low_threshold <= high_threshold <= 1, got "
                f"{self.low_threshold}, {self.high_threshold}"
            )
        if not 0.0 < self.velocity_smoothing <= 1.0:
            raise ValueError(f"velocity_smoothing must be in (0, 1], got {self.velocity_smoothing}")
        if self.lost_after_s < 0:
            raise ValueError(f"lost_after_s must be >= 0, got {self.lost_after_s}")


class IdCounter:
    """Ids 1, 2, 3, ... per tracker instance (never shared between cameras)."""

    def __init__(self) -> None:
        self._next = 1

    def new_id(self) -> int:
        value = self._next
        self._next += 1
        return value


@dataclass
class _Track:
    track_id: int
    box: Box
    score: float
    class_id: int
    label: str
    last_time: float
    velocity: Box = field(default_factory=lambda: np.zeros(4, dtype=np.float32))
    hits: int = 1
    tracked: bool = True  # matched on the previous update (False: lost)

    def predict(self, t: float) -> Box:
        dt = max(0.0, t - self.last_time)
        predicted: Box = (self.box + self.velocity * np.float32(dt)).astype(np.float32)
        return predicted

    def update(self, box: Box, score: float, label: str, t: float, smoothing: float) -> None:
        dt = t - self.last_time
        if dt > 0:
            measured = (box - self.box) / np.float32(dt)
            self.velocity = (smoothing * measured + (1 - smoothing) * self.velocity).astype(
                np.float32
            )
        self.box = box.astype(np.float32)
        self.score = score
        self.label = label
        self.last_time = t
        self.hits += 1
        self.tracked = True


class ByteTracker:
    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params or TrackerParams()
        self._ids = IdCounter()
        self._tracks: list[_Track] = []

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    def reset(self) -> None:
        """Forget every track. The id counter keeps counting so ids stay unique per instance:
        events keyed by a track id that is still open downstream can never be reused."""
        self._tracks = []

    def update(self, dets: Detections, t: float) -> Detections:
        """Associate one frame's detections (taken at time ``t``, seconds) with the tracks."""
        p = self.params
        self._tracks = [tr for tr in self._tracks if t - tr.last_time <= p.lost_after_s]
        assigned = np.full(len(dets), -1, dtype=np.int64)
        high = np.flatnonzero(dets.score >= p.high_threshold)
        low = np.flatnonzero((dets.score >= p.low_threshold) & (dets.score < p.high_threshold))

        pool = list(range(len(self._tracks)))
        left = self._associate(dets, high, pool, t, p.match_iou, assigned)
        was_tracked = [i for i in left if self._tracks[i].tracked]
        self._associate(dets, low, was_tracked, t, p.low_match_iou, assigned)

        matched = set(assigned[assigned >= 0].tolist())
        for tr in self._tracks:
            if tr.track_id not in matched:
                tr.tracked = False
        for d in high:
            if assigned[d] < 0 and dets.score[d] >= p.new_track_threshold:
                tr = _Track(
                    track_id=self._ids.new_id(),
                    box=dets.xyxy[d].astype(np.float32),
                    score=float(dets.score[d]),
                    class_id=int(dets.class_id[d]),
                    label=str(dets.labels[d]),
                    last_time=t,
                )
                self._tracks.append(tr)
                assigned[d] = tr.track_id
        keep = assigned >= 0
        return dets[keep].with_tracker_id(assigned[keep])

    def _associate(
        self,
        dets: Detections,
        det_idx: npt.NDArray[np.int64],
        track_idx: list[int],
        t: float,
        min_iou: float,
        assigned: npt.NDArray[np.int64],
    ) -> list[int]:
        """Match ``det_idx`` to ``track_idx``; write track ids into ``assigned``; return the
        track indices left unmatched."""
        if len(det_idx) == 0 or not track_idx:
            return track_idx
        tracks = [self._tracks[i] for i in track_idx]
        predicted = np.stack([tr.predict(t) for tr in tracks]).astype(np.float32)
        iou = box_iou(predicted, dets.xyxy[det_idx]).astype(np.float64)
        same_class = np.asarray([tr.class_id for tr in tracks])[:, None] == dets.class_id[det_idx]
        iou = np.where(same_class, iou, 0.0)
        matches, unmatched, _ = linear_assignment(1.0 - iou, max_cost=1.0 - min_iou)
        for r, c in matches:
            tr, d = tracks[r], int(det_idx[c])
            tr.update(
                dets.xyxy[d], float(dets.score[d]), str(dets.labels[d]), t,
                self.params.velocity_smoothing,
            )  # fmt: skip
            assigned[d] = tr.track_id
        return [track_idx[r] for r in unmatched]
