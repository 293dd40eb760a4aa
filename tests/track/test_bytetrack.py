from __future__ import annotations

import numpy as np
import pytest

from node.detect.detections import Detections
from node.track.bytetrack import ByteTracker, TrackerParams


def dets(*rows: tuple[float, float, float, float, float], cls: int = 0) -> Detections:
    """Rows of (x1, y1, x2, y2, score), all of class ``cls``."""
    return Detections.from_arrays(
        [r[:4] for r in rows], [r[4] for r in rows], [cls] * len(rows), ["person"] * len(rows)
    )


def ids_by_x(out: Detections) -> dict[int, int]:
    """Track id keyed by the box's left x (rounded), to follow objects by position."""
    assert out.tracker_id is not None
    return {round(float(b[0])): int(t) for b, t in zip(out.xyxy, out.tracker_id, strict=True)}


def test_ids_start_at_one_per_instance_and_persist() -> None:
    a, b = ByteTracker(), ByteTracker()
    for t in range(5):
        out = a.update(dets((10 + 5 * t, 10, 50 + 5 * t, 100, 0.9)), t * 0.1)
        assert out.tracker_id is not None and out.tracker_id.tolist() == [1]
    assert b.update(dets((0, 0, 10, 10, 0.9)), 0.0).tracker_id.tolist() == [1]  # type: ignore[union-attr]


def test_crossing_objects_keep_their_ids() -> None:
    # two people walk towards each other, pass (boxes overlap) and continue: constant velocity
    # prediction must carry each id through the crossing
    tr = ByteTracker()
    first: dict[str, int] = {}
    for k in range(21):
        t = k * 0.1
        left_x, right_x = 10 + 10 * k, 210 - 10 * k  # cross at k=10
        walkers = (left_x, 50, left_x + 40, 150, 0.9), (right_x, 52, right_x + 40, 152, 0.85)
        out = tr.update(dets(*walkers), t)
        got = ids_by_x(out)
        assert len(got) == 2 or left_x == right_x
        if k == 0:
            first = {"left": got[left_x], "right": got[right_x]}
        elif left_x != right_x:
            assert got[left_x] == first["left"], f"left walker switched id at step {k}"
            assert got[right_x] == first["right"], f"right walker switched id at step {k}"
    assert tr.tracks == 2


def test_occlusion_gap_shorter_than_lost_after_keeps_id() -> None:
    tr = ByteTracker(TrackerParams(lost_after_s=1.0))
    for k in range(5):
        tr.update(dets((10 + 4 * k, 10, 50 + 4 * k, 100, 0.9)), k * 0.1)
    for k in range(5, 12):  # hidden 0.7 s
        assert len(tr.update(Detections.empty(), k * 0.1)) == 0
    # reappears where constant velocity predicts it
    out = tr.update(dets((10 + 4 * 12, 10, 50 + 4 * 12, 100, 0.9)), 1.2)
    assert out.tracker_id is not None and out.tracker_id.tolist() == [1]


def test_gap_longer_than_lost_after_gives_new_id() -> None:
    tr = ByteTracker(TrackerParams(lost_after_s=0.5))
    tr.update(dets((10, 10, 50, 100, 0.9)), 0.0)
    out = tr.update(dets((10, 10, 50, 100, 0.9)), 0.6)
    assert out.tracker_id is not None and out.tracker_id.tolist() == [2]


def test_low_score_detection_extends_but_never_starts_a_track() -> None:
    tr = ByteTracker()
    assert len(tr.update(dets((10, 10, 50, 100, 0.3)), 0.0)) == 0  # low score: no new track
    tr.update(dets((10, 10, 50, 100, 0.9)), 0.1)
    out = tr.update(dets((11, 10, 51, 100, 0.3)), 0.2)  # occluded: low score, same place
    # id 1: the first low-score detection did not consume an id
    assert out.tracker_id is not None and out.tracker_id.tolist() == [1]
    assert out.score.tolist() == pytest.approx([0.3])


def test_classes_never_match_each_other() -> None:
    tr = ByteTracker()
    tr.update(dets((10, 10, 50, 100, 0.9), cls=0), 0.0)
    out = tr.update(dets((10, 10, 50, 100, 0.9), cls=43), 0.1)
    assert out.tracker_id is not None and out.tracker_id.tolist() == [2]


def test_input_is_not_mutated_and_reset_keeps_ids_unique() -> None:
    tr = ByteTracker()
    d = dets((10, 10, 50, 100, 0.9))
    before = d.xyxy.copy()
    out = tr.update(d, 0.0)
    assert d.tracker_id is None and out is not d
    np.testing.assert_array_equal(d.xyxy, before)
    tr.reset()
    assert tr.tracks == 0
    again = tr.update(dets((10, 10, 50, 100, 0.9)), 0.1)
    assert again.tracker_id is not None and again.tracker_id.tolist() == [2]


def test_bad_params() -> None:
    with pytest.raises(ValueError, match="low_threshold"):
        TrackerParams(low_threshold=0.6, high_threshold=0.5)
