"""Axis-aligned boxes in xyxy: the one IoU of the project (runtime, evaluation and training data).

Arithmetic stays in the boxes' own precision (float32 boxes give float32 IoU, as the trackers and
NMS were tuned with; float64 or integer boxes give float64), so evaluation code that works in
float64 keeps its exact figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


def box_iou(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
    """Pairwise IoU of boxes ``a`` (N,4) and ``b`` (M,4): an (N, M) array.

    A degenerate box (x2 <= x1 or y2 <= y1) has area 0; two boxes whose union is empty have IoU 0.
    """
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), dtype=dtype)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou.astype(dtype, copy=False)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two boxes given as sequences (lists, tuples) of x1, y1, x2, y2."""
    return float(box_iou(np.asarray([a]), np.asarray([b]))[0, 0])
