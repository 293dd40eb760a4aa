"""The one IoU (``node.boxes``): values, degenerate boxes, shapes and the precision it keeps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from node.boxes import box_iou, iou

F32 = np.float32


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [5, 0, 15, 10], 1 / 3),  # half overlap: 50 / 150
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),  # apart
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),  # touching edges
        ([0, 0, 10, 10], [2, 2, 4, 4], 0.04),  # inside: 4 / 100
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty union, no division by zero
        ([5, 5, 0, 0], [0, 0, 10, 10], 0.0),  # inverted box: area 0
    ],
)
def test_iou_of_one_pair(a: list[float], b: list[float], expected: float) -> None:
    assert iou(a, b) == pytest.approx(expected, abs=1e-7)
    got = box_iou(np.array([a], F32), np.array([b], F32))
    assert got.shape == (1, 1) and got[0, 0] == pytest.approx(expected, abs=1e-6)


def test_pairwise_shape_and_symmetry() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (7, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 50, (7, 2))], 1).astype(F32)
    m = box_iou(boxes[:4], boxes)
    assert m.shape == (4, 7)
    np.testing.assert_array_equal(m, box_iou(boxes, boxes[:4]).T)
    np.testing.assert_array_equal(np.diag(m[:, :4]), np.ones(4, F32))


@pytest.mark.parametrize(
    ("dtype", "result"),
    [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)],
)
def test_keeps_the_boxes_precision(dtype: Any, result: Any) -> None:
    a = np.array([[0, 0, 10, 10]], dtype)
    b = np.array([[5, 0, 15, 10], [1, 1, 3, 3]], dtype)
    assert box_iou(a, b).dtype == result
    assert box_iou(a[:0], b).shape == (0, 2) and box_iou(a[:0], b).dtype == result
    assert box_iou(a, b[:0]).shape == (1, 0)
