from __future__ import annotations

import numpy as np
import pytest

from node.detect.nms import class_aware_nms, nms

B = np.float32


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "iou", "kept"),
    [
        ([], [], [], 0.5, []),
        ([[0, 0, 10, 10]], [0.9], [0], 0.5, [0]),
        # heavy overlap, same class: the lower score goes
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.6, 0.9], [0, 0], 0.5, [1]),
        # same overlap, different classes: both stay (class-aware)
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.6, 0.9], [0, 24], 0.5, [1, 0]),
        # IoU exactly at the threshold (1/3) is kept: suppression needs strictly greater
        ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.9, 0.8], [0, 0], 1 / 3, [0, 1]),
        ([[0, 0, 10, 10], [5, 0, 15, 10]], [0.9, 0.8], [0, 0], 0.3, [0]),
        # a chain: A suppresses B, B would have suppressed C, C survives because B is gone
        ([[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]], [0.9, 0.8, 0.7], [0, 0, 0], 0.4,
         [0, 2]),
        # degenerate zero-area box never suppresses anything
        ([[0, 0, 0, 0], [0, 0, 10, 10]], [0.9, 0.8], [0, 0], 0.1, [0, 1]),
    ],
)  # fmt: skip
def test_class_aware_nms_table(
    boxes: list[list[float]], scores: list[float], classes: list[int], iou: float, kept: list[int]
) -> None:
    b = np.asarray(boxes, dtype=B).reshape(-1, 4)
    got = class_aware_nms(b, np.asarray(scores, dtype=B), np.asarray(classes, np.int64), iou)
    assert got.tolist() == kept


def test_nms_matches_bruteforce_reference_on_random_boxes() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (60, 2))
    wh = rng.uniform(5, 40, (60, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(B)
    scores = rng.uniform(0, 1, 60).astype(B)

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return float(inter / union)

    expected: list[int] = []
    for i in sorted(range(60), key=lambda k: -scores[k]):
        if all(iou(boxes[i], boxes[j]) <= 0.45 for j in expected):
            expected.append(i)
    assert nms(boxes, scores, 0.45).tolist() == expected


@pytest.mark.parametrize(
    ("n_boxes", "n_scores", "iou", "match"),
    [(2, 3, 0.5, "disagree"), (2, 2, 1.5, "iou_threshold")],
)
def test_nms_rejects_bad_input(n_boxes: int, n_scores: int, iou: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        nms(np.zeros((n_boxes, 4), B), np.zeros(n_scores, B), iou)
