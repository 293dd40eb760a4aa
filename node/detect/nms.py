"""Class-aware non-maximum suppression in numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou


def nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    iou_threshold: float,
    top_k: int | None = None,
) -> npt.NDArray[np.int64]:
    """Greedy NMS on one class: indices of kept boxes, highest score first.

    A box is dropped when its IoU with an already kept box is strictly greater than
    ``iou_threshold``. ``top_k`` stops after that many kept boxes (the first ``top_k`` of the
    full result, found sooner).
    """
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"boxes {boxes.shape} and scores {scores.shape} disagree on N")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    # stable sort keeps the original order among equal scores, so results are deterministic
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size > 0 and (top_k is None or len(keep) < top_k):
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[box_iou(boxes[i : i + 1], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def class_aware_nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    iou_threshold: float,
) -> npt.NDArray[np.int64]:
    """NMS within each class only (a person never suppresses the backpack it wears).

    Returns kept indices sorted by descending score.
    """
    if not (boxes.shape[0] == scores.shape[0] == class_ids.shape[0]):
        raise ValueError(
            f"boxes {boxes.shape}, scores {scores.shape}, class_ids {class_ids.shape} disagree"
        )
    kept: list[npt.NDArray[np.int64]] = []
    for c in np.unique(class_ids):
        idx = np.flatnonzero(class_ids == c)
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    if not kept:
        return np.zeros(0, dtype=np.int64)
    allk = np.concatenate(kept)
    return allk[np.argsort(-scores[allk], kind="stable")].astype(np.int64)
