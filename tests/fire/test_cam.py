"""CAM and CAM-box pure functions against hand-computed references."""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from node.fire.cam import (
    cam_box,
    class_activation_map,
    heatmap_overlay,
    normalize_cam,
    peak_region_box,
)


def test_cam_is_weighted_sum_of_channels_plus_bias() -> None:
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((4, 3, 5)).astype(np.float32)
    w = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
    expected = np.zeros((3, 5), np.float32)
    for c in range(4):
        expected += w[c] * feats[c]
    expected += 0.25
    np.testing.assert_allclose(class_activation_map(feats, w, 0.25), expected, rtol=1e-6)


def test_mean_of_cam_equals_logit_of_pooled_features() -> None:
    # why CAM is exact for this head: logit = w . mean(F) + b = mean(w . F + b)
    rng = np.random.default_rng(1)
    feats = rng.random((8, 6, 6), dtype=np.float32)
    w = rng.standard_normal(8).astype(np.float32)
    logit = float(w @ feats.mean(axis=(1, 2)) - 0.3)
    assert float(class_activation_map(feats, w, -0.3).mean()) == pytest.approx(logit, rel=1e-5)


@pytest.mark.parametrize(
    ("feat_shape", "w_shape", "expectation"),
    [
        ((4, 3, 3), (4,), does_not_raise()),
        ((4, 3), (4,), pytest.raises(ValueError, match=r"\(C, h, w\)")),
        ((4, 3, 3), (5,), pytest.raises(ValueError, match=r"must be \(4,\)")),
    ],
)
def test_cam_shapes(
    feat_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    expectation: AbstractContextManager[object],
) -> None:
    with expectation:
        class_activation_map(np.zeros(feat_shape, np.float32), np.zeros(w_shape, np.float32), 0.0)


def test_normalize_cam_range_and_flat() -> None:
    cam = np.array([[1.0, 3.0], [2.0, 5.0]], np.float32)
    np.testing.assert_allclose(normalize_cam(cam), [[0.0, 0.5], [0.25, 1.0]])
    assert not normalize_cam(np.full((3, 3), 7.0, np.float32)).any()


def test_peak_region_box_keeps_only_the_component_with_the_peak() -> None:
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:4] = True  # the peak's region
    mask[6:9, 6:10] = True  # another region
    assert peak_region_box(mask, (2, 2)) == (1, 1, 4, 3)
    with pytest.raises(ValueError, match="not inside"):
        peak_region_box(mask, (5, 5))


def test_cam_box_maps_a_blob_back_to_frame_pixels() -> None:
    # 8x8 CAM over a 640x320 frame: a hot 2x2 block at rows 2-3, cols 4-5 covers
    # x 320-480, y 80-160 in the frame; bilinear upsampling blurs edges by under a cell.
    cam = np.zeros((8, 8), np.float32)
    cam[2:4, 4:6] = 1.0
    box = cam_box(cam, 640, 320, threshold=0.5)
    cell_w, cell_h = 640 / 8, 320 / 8
    np.testing.assert_allclose(box, [320, 80, 480, 160], atol=max(cell_w, cell_h) / 2)


def test_cam_box_ignores_a_weaker_second_region() -> None:
    cam = np.zeros((8, 8), np.float32)
    cam[1, 1] = 1.0
    cam[6, 6] = 0.8  # above threshold too, but not connected to the peak
    _x1, _y1, x2, y2 = cam_box(cam, 800, 800, threshold=0.5)
    assert x2 < 400 and y2 < 400


@pytest.mark.parametrize(
    ("threshold", "size", "match"),
    [(0.0, (10, 10), "threshold"), (1.0, (10, 10), "threshold"), (0.5, (0, 10), "frame size")],
)
def test_cam_box_rejects_bad_arguments(threshold: float, size: tuple[int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cam_box(np.ones((4, 4), np.float32), size[0], size[1], threshold)


def test_heatmap_overlay_keeps_frame_shape_and_colours_the_hot_area() -> None:
    img = np.full((60, 80, 3), 128, np.uint8)
    cam = np.zeros((6, 8), np.float32)
    cam[0, 0] = 1.0
    out = heatmap_overlay(img, cam)
    assert out.shape == img.shape and out.dtype == np.uint8
    # JET: hot = red (BGR index 2) in the top-left, cold = blue far away
    assert out[2, 2, 2] > out[2, 2, 0]
    assert out[55, 75, 0] > out[55, 75, 2]
