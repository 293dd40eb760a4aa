"""A small IoU tracker for faces: greedy highest-IoU matching is enough for faces, which rarely
cross at conversation distance. Synchronous and pure; one id counter per instance (per camera)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou

F32 = npt.NDArray[np.float32]


@dataclass
class FaceTrack:
    track_id: int
    box: F32
    missed: int = 0


class IouTracker:
    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 5) -> None:
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self._tracks: list[FaceTrack] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[FaceTrack]:
        return list(self._tracks)

    def update(self, boxes: F32) -> tuple[list[int], list[int]]:
        """Assign each box a track id; returns (ids per box, ids of tracks dropped this frame)."""
        n = len(boxes)
        ids = [-1] * n
        if self._tracks and n:
            old = np.stack([t.box for t in self._tracks])
            iou = box_iou(boxes, old)  # (boxes, tracks)
            pairs = sorted(
                ((float(iou[i, j]), i, j) for i in range(n) for j in range(len(self._tracks))),
                reverse=True,
            )
            used_t: set[int] = set()
            for v, i, j in pairs:
                if v < self.iou_threshold:
                    break
                if ids[i] != -1 or j in used_t:
                    continue
                ids[i] = self._tracks[j].track_id
                used_t.add(j)
                self._tracks[j].box, self._tracks[j].missed = boxes[i], 0
        matched = set(ids)
        for t in self._tracks:
            if t.track_id not in matched:
                t.missed += 1
        dropped = [t.track_id for t in self._tracks if t.missed > self.max_missed]
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for i in range(n):
            if ids[i] == -1:
                ids[i] = self._next_id
                self._tracks.append(FaceTrack(self._next_id, boxes[i]))
                self._next_id += 1
        return ids, dropped

    def reset(self) -> None:
        self._tracks.clear()
