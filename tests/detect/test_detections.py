from __future__ import annotations

from contextlib import AbstractContextManager
from contextlib import nullcontext as does_not_raise
from typing import Any

import numpy as np
import pytest

from node.detect.detections import Detections


@pytest.mark.parametrize(
    ("xyxy", "score", "class_id", "labels", "tracker_id", "expectation"),
    [
        (np.zeros((2, 4)), np.zeros(2), np.zeros(2), ["a", "b"], None, does_not_raise()),
        (np.zeros((0, 4)), [], [], [], None, does_not_raise()),
        (np.zeros((2, 3)), np.zeros(2), np.zeros(2), ["a", "b"], None,
         pytest.raises(ValueError, match=r"xyxy must have shape \(N, 4\), got \(2, 3\)")),
        (np.zeros((2, 4)), np.zeros(3), np.zeros(2), ["a", "b"], None,
         pytest.raises(ValueError, match=r"score must have shape \(2\), got \(3,\)")),
        (np.zeros((2, 4)), np.zeros(2), np.zeros(1), ["a", "b"], None,
         pytest.raises(ValueError, match="class_id")),
        (np.zeros((2, 4)), np.zeros(2), np.zeros(2), ["a"], None,
         pytest.raises(ValueError, match="labels")),
        (np.zeros((2, 4)), np.zeros(2), np.zeros(2), ["a", "b"], [1],
         pytest.raises(ValueError, match="tracker_id")),
    ],
)  # fmt: skip
def test_construction_validates_shapes(
    xyxy: Any, score: Any, class_id: Any, labels: Any, tracker_id: Any,
    expectation: AbstractContextManager[object],
) -> None:  # fmt: skip
    with expectation:
        d = Detections.from_arrays(xyxy, score, class_id, labels, tracker_id)
        assert len(d) == len(labels)


def _dets() -> Detections:
    return Detections.from_arrays(
        [[0, 0, 10, 10], [5, 5, 25, 45], [0, 0, 1, 1]], [0.9, 0.3, 0.6], [0, 43, 0],
        ["person", "knife", "person"],
    )  # fmt: skip


def test_boolean_mask_and_index_filtering() -> None:
    d = _dets()
    people = d[d.labels == "person"]
    assert people.score.tolist() == pytest.approx([0.9, 0.6])
    assert d[np.array([1])].labels.tolist() == ["knife"]
    assert len(d[d.score > 2]) == 0
    with pytest.raises(ValueError, match="mask"):
        d[np.array([True, False])]


def test_area_anchor_and_tracker_id_do_not_mutate() -> None:
    d = _dets()
    assert d.area.tolist() == [100, 800, 1]
    assert d.anchor[1].tolist() == [15, 45]
    t = d.with_tracker_id([7, 8, 9])
    assert d.tracker_id is None and t.tracker_id is not None
    assert t.to_json()["track_ids"] == [7, 8, 9]
    t.xyxy[0, 0] = 99
    assert d.xyxy[0, 0] == 0

