"""Feature windows: scale invariance, missing keypoints, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from node.movement.features import (
    FEATURE_INDEX,
    NUM_FEATURES,
    Series,
    resample,
    torso_tilt,
    window_features,
)


def _person(x: float, y: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """A standing stick person (box and 17 keypoints) with feet at (x, y), height h."""
    box = np.asarray([x - 0.2 * h, y - h, x + 0.2 * h, y], np.float32)
    kps = np.zeros((17, 3), np.float32)
    kps[:, 0] = x
    kps[:, 2] = 0.9
    kps[0, 1] = y - 0.93 * h
    kps[1:5, 1] = y - 0.95 * h
    kps[5:7, 1] = y - 0.8 * h
    kps[7:9, 1] = y - 0.65 * h
    kps[9:11, 1] = y - 0.5 * h
    kps[11:13, 1] = y - 0.5 * h
    kps[13:15, 1] = y - 0.27 * h
    kps[15:17, 1] = y - 0.03 * h
    return box, kps


def _walker(h: float, speed_h: float, n: int = 24, rate: float = 8.0) -> Series:
    times = np.arange(n, dtype=np.float32) / rate
    boxes, kps = zip(*[_person(100 + speed_h * h * t, 400, h) for t in times], strict=True)
    return Series(times, np.stack(boxes), np.stack(kps))


def test_features_do_not_depend_on_distance_to_camera() -> None:
    near = window_features(_walker(300, 1.0), 8.0)
    far = window_features(_walker(60, 1.0), 8.0)
    assert near.shape == (24, NUM_FEATURES)
    np.testing.assert_allclose(near, far, atol=1e-4)
    assert near[5:, FEATURE_INDEX["vx"]] == pytest.approx(1.0, abs=1e-3)


def test_missing_keypoints_give_zero_and_visibility() -> None:
    s = _walker(200, 0.5)
    kps = s.keypoints.copy()
    kps[10:, :, 2] = 0.0  # the pose is lost for the second half
    f = window_features(Series(s.times, s.boxes, kps), 8.0)
    assert np.isfinite(f).all()
    assert f[12:, FEATURE_INDEX["kp_visible"]] == pytest.approx(0.0)
    assert f[12:, FEATURE_INDEX["torso_visible"]] == pytest.approx(0.0)
    assert f[12:, FEATURE_INDEX["limb_speed"]] == pytest.approx(0.0)
    assert f[12:, FEATURE_INDEX["vx"]] == pytest.approx(0.5, abs=1e-3)  # boxes still move


def test_torso_tilt_upright_and_lying() -> None:
    kps = np.zeros((2, 17, 3), np.float32)
    kps[:, :, 2] = 0.9
    kps[0, 5:7, :2] = [[10, 0], [12, 0]]
    kps[0, 11:13, :2] = [[10, 50], [12, 50]]
    kps[1, 5:7, :2] = [[0, 10], [0, 12]]
    kps[1, 11:13, :2] = [[50, 10], [50, 12]]
    tilt, ok = torso_tilt(kps, kps[:, :, 2] > 0.3)
    assert tilt.tolist() == pytest.approx([0.0, 1.0])
    assert ok.tolist() == [1.0, 1.0]


def test_resample_holds_the_first_sample_and_interpolates() -> None:
    times = np.asarray([1.0, 1.5], np.float32)
    boxes = np.asarray([[0, 0, 10, 10], [10, 0, 20, 10]], np.float32)
    kps = np.zeros((2, 17, 3), np.float32)
    kps[1, :, 2] = 1.0
    g = resample(Series(times, boxes, kps), 1.5, 4.0, 4)  # grid 0.75, 1.0, 1.25, 1.5
    assert g.boxes[:, 0].tolist() == pytest.approx([0, 0, 5, 10])
    assert g.keypoints[:, 0, 2].tolist() == [0, 0, 0, 1]  # nearest sample; a tie takes the older


def test_series_checks_shapes_and_time_order() -> None:
    with pytest.raises(ValueError, match="keypoints"):
        Series(np.zeros(2, np.float32), np.zeros((2, 4), np.float32),
               np.zeros((2, 16, 3), np.float32))
    with pytest.raises(ValueError, match="increasing"):
        Series(np.asarray([1.0, 1.0], np.float32), np.zeros((2, 4), np.float32),
               np.zeros((2, 17, 3), np.float32))
