"""``Detections``: parallel numpy arrays describing the boxes of one frame.

Shapes are checked at construction (naming expected and actual shape), so a bad adapter fails where
it is written rather than three modules later. Filtering uses boolean masks or index arrays and
always returns a new object: nothing here mutates its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]


def _check(name: str, arr: npt.NDArray[Any], shape: tuple[int | None, ...]) -> None:
    ok = arr.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, arr.shape, strict=False)
    )
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes of one frame: ``xyxy`` absolute pixels, ``score`` 0-1, ``class_id``, ``labels``.

    ``tracker_id`` is set by the tracker (``None`` before tracking). eq=False: comparing arrays
    element-wise is never what ``==`` should mean here.

    Example:
        >>> d = Detections.from_arrays([[0, 0, 10, 10]], [0.9], [0], ["person"])
        >>> len(d[d.score > 0.5])
        1
    """

    xyxy: FloatArray
    score: FloatArray
    class_id: IntArray
    labels: StrArray
    tracker_id: IntArray | None = None

    def __post_init__(self) -> None:
        _check("xyxy", self.xyxy, (None, 4))
        n = self.xyxy.shape[0]
        _check("score", self.score, (n,))
        _check("class_id", self.class_id, (n,))
        _check("labels", self.labels, (n,))
        if self.tracker_id is not None:
            _check("tracker_id", self.tracker_id, (n,))

    @classmethod
    def from_arrays(
        cls,
        xyxy: Any,
        score: Any,
        class_id: Any,
        labels: Any,
        tracker_id: Any = None,
    ) -> Detections:
        """Build from lists or arrays, converting dtypes once (empty inputs give 0 rows)."""
        boxes = np.asarray(xyxy, dtype=np.float32)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        return cls(
            xyxy=boxes,
            score=np.asarray(score, dtype=np.float32).reshape(-1),
            class_id=np.asarray(class_id, dtype=np.int64).reshape(-1),
            labels=np.asarray(labels, dtype=np.str_).reshape(-1),
            tracker_id=None
            if tracker_id is None
            else np.asarray(tracker_id, dtype=np.int64).reshape(-1),
        )

    @classmethod
    def empty(cls) -> Detections:
        return cls.from_arrays(np.zeros((0, 4)), [], [], [])

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(
        self, index: npt.NDArray[np.bool_] | npt.NDArray[np.int64] | slice
    ) -> Detections:
        """Select rows with a boolean mask (length N), an index array or a slice."""
        if isinstance(index, np.ndarray) and index.dtype == np.bool_:
            _check("mask", index, (len(self),))
        return Detections(
            xyxy=self.xyxy[index],
            score=self.score[index],
            class_id=self.class_id[index],
            labels=self.labels[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
        )

    @property
    def area(self) -> FloatArray:
        wh = np.clip(self.xyxy[:, 2:4] - self.xyxy[:, 0:2], 0.0, None)
        area: FloatArray = (wh[:, 0] * wh[:, 1]).astype(np.float32)
        return area

    @property
    def anchor(self) -> FloatArray:
        """Bottom-centre of each box: where an object touches the ground, used for zones."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2.0
        out: FloatArray = np.stack([x, self.xyxy[:, 3]], axis=1).astype(np.float32)
        return out

    def with_tracker_id(self, tracker_id: Any) -> Detections:
        return Detections(
            xyxy=self.xyxy.copy(),
            score=self.score.copy(),
            class_id=self.class_id.copy(),
            labels=self.labels.copy(),
            tracker_id=np.asarray(tracker_id, dtype=np.int64).reshape(-1),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable outputs (what ``citywatch analyse`` prints)."""
        out: dict[str, Any] = {
            "boxes": [[round(float(v), 2) for v in row] for row in self.xyxy],
            "labels": [str(v) for v in self.labels],
            "scores": [round(float(v), 4) for v in self.score],
            "class_ids": [int(v) for v in self.class_id],
        }
        if self.tracker_id is not None:
            out["track_ids"] = [int(v) for v in self.tracker_id]
        return out

