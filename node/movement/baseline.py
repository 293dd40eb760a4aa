"""The ``nfd-fall.onnx`` baseline (PyPI neura-fall-detection 0.1.0), for side-by-side evaluation.

Its contract (read from the package, re-implemented here): per MoveNet person, 60 features per
frame -- 17 keypoints (x, y) relative to the box centre divided by the box size (clipped to
+-2), 17 scores, box (cx, cy, w, h, w/h) normalised to the frame, mean shoulder/hip/ankle y,
and the fraction of keypoints scoring >= 0.15 -- over 32 frames at 8 fps (left-padded with the
first frame), giving logits for (normal, descending, fallen, recovering). The package fuses
those with its own geometry rules; here the model alone is judged: a fall is ``fallen`` being
the most likely state for ``k`` consecutive steps. This is a comparison, not our detector.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from node.detect.detections import Detections
from node.movement.pose import Poses
from node.track.bytetrack import ByteTracker, TrackerParams

STATES = ("normal", "descending", "fallen", "recovering")
SEQUENCE = 32
FEATURES = 60


class _Session(Protocol):
    def run(self, feeds: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]: ...


def nfd_features(kps_px: npt.NDArray[np.float32], box_px: npt.NDArray[np.float32],
                 frame_hw: tuple[int, int]) -> npt.NDArray[np.float32]:
    """One frame's 60 NFD features from keypoints (17, 3) and box (4,) in frame pixels."""
    h, w = frame_hw
    scale = np.asarray([w, h], np.float32)
    xy = kps_px[:, :2] / scale
    box = box_px / np.asarray([w, h, w, h], np.float32)
    bw, bh = max(float(box[2] - box[0]), 1e-4), max(float(box[3] - box[1]), 1e-4)
    cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
    rel = np.clip((xy - np.asarray([cx, cy], np.float32)) / np.asarray([bw, bh], np.float32),
                  -2.0, 2.0)
    scores = np.clip(kps_px[:, 2], 0.0, 1.0)
    anchors = [float(np.mean(xy[[a, b], 1])) for a, b in ((5, 6), (11, 12), (15, 16))]
    extra = [cx, cy, bw, bh, float(np.clip(bw / bh, 0.0, 5.0)), *anchors,
             float(np.mean(scores >= 0.15))]
    return np.concatenate([rel.reshape(-1), scores, np.asarray(extra, np.float32)]).astype(
        np.float32)


class NfdBaseline:
    """Tracks MoveNet people (like the package does) and runs the NFD head per track."""

    def __init__(self, session: _Session, input_name: str = "pose_history", k: int = 3) -> None:
        self._session = session
        self._input = input_name
        self._k = k
        self._tracker = ByteTracker(TrackerParams(high_threshold=0.2, low_threshold=0.1,
                                                  new_track_threshold=0.2, lost_after_s=1.0))
        self._hist: dict[int, deque[npt.NDArray[np.float32]]] = {}
        self._run: dict[int, int] = {}
        self.fell: set[int] = set()

    def update(self, poses: Poses, frame_hw: tuple[int, int], t: float) -> dict[int, str]:
        dets = Detections.from_arrays(poses.boxes, poses.scores, [0] * len(poses),
                                      ["person"] * len(poses))
        tracked = self._tracker.update(dets, t)
        if len(tracked) == 0 or tracked.tracker_id is None:
            return {}
        # tracked rows keep the order of the poses they came from (the tracker only drops rows)
        order = [int(np.argmin(np.abs(poses.boxes - b).sum(axis=1))) for b in tracked.xyxy]
        batch, ids = [], []
        for tid, pi in zip(tracked.tracker_id.tolist(), order, strict=True):
            q = self._hist.setdefault(tid, deque(maxlen=SEQUENCE))
            q.append(nfd_features(poses.keypoints[pi], poses.boxes[pi], frame_hw))
            seq = list(q)
            seq = [seq[0]] * (SEQUENCE - len(seq)) + seq
            batch.append(np.stack(seq))
            ids.append(tid)
        logits = np.asarray(self._session.run({self._input: np.stack(batch).astype(np.float32)})[0])
        out: dict[int, str] = {}
        for tid, row in zip(ids, logits, strict=True):
            state = STATES[int(np.argmax(row))]
            out[tid] = state
            self._run[tid] = self._run.get(tid, 0) + 1 if state == "fallen" else 0
            if self._run[tid] >= self._k:
                self.fell.add(tid)
        return out
