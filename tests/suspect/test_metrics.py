"""COCO-style AP against hand-computed references; P/R at the operating threshold."""

from __future__ import annotations

import numpy as np
import pytest

from models.suspect.evaluate import (
    Prediction,
    Truth,
    average_precision,
    detection_metrics,
)
from node.boxes import box_iou


def _p(boxes: list[list[float]], scores: list[float], ids: list[int]) -> Prediction:
    return Prediction(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                      np.array(ids, np.int64))  # fmt: skip


def _t(boxes: list[list[float]], ids: list[int]) -> Truth:
    return Truth(np.array(boxes, np.float32).reshape(-1, 4), np.array(ids, np.int64))


def test_ap_101_point_reference() -> None:
    # TP, FP, TP over 2 GT: precision 1 up to recall .5, then 2/3 up to recall 1
    ap = average_precision(np.array([True, False, True]), 2)
    assert ap == pytest.approx((51 * 1.0 + 50 * (2 / 3)) / 101)
    assert average_precision(np.array([], np.bool_), 3) == 0.0
    assert np.isnan(average_precision(np.array([True]), 0))


def test_matching_duplicates_classes_and_thresholds() -> None:
    gt = _t([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])
    pred = _p(
        [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 32], [50, 50, 60, 60]],
        [0.9, 0.8, 0.7, 0.6],
        [0, 0, 0, 1],
    )
    m = detection_metrics([pred], [gt], ["a", "b"], threshold=0.75)
    # the duplicate of the first box is a false positive (one GT matches once)
    assert m["a"]["ap50"] == pytest.approx((51 + 50 * (2 / 3)) / 101, abs=1e-4)
    # box 3 has IoU 100/120 = 0.833: TP at 0.50..0.80 (7 thresholds), FP at 0.85..0.95
    iou = float(box_iou(pred.boxes[2:3], gt.boxes[1:2])[0, 0])
    assert iou == pytest.approx(100 / 120)
    expected = (7 * (51 + 50 * (2 / 3)) / 101 + 3 * (51 / 101)) / 10
    assert m["a"]["ap50_95"] == pytest.approx(expected, abs=1e-4)
    # at the 0.75 operating threshold: the TP and its duplicate remain -> P 1/2, R 1/2
    assert (m["a"]["precision"], m["a"]["recall"]) == (0.5, 0.5)
    assert m["b"]["gt"] == 0 and m["b"]["ap50"] is None  # no GT: undefined, not 0 or NaN
