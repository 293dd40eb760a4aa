"""Peak, mass box, superpixels and LIME's regression, on maps and images built by hand."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from typing import Any

import numpy as np
import pytest

from node.explain.lime import kernel_weights, weighted_ridge
from node.explain.maps import mass_box, overlay, peak_xy, resize_map
from node.explain.occlusion import fit_grid
from node.explain.superpixels import slic


def _blob(h: int, w: int, cx: float, cy: float, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_mass_box_holds_the_strongest_fifth_of_the_mass_around_the_blob() -> None:
    heat = _blob(100, 200, cx=150, cy=30, sigma=8) + 0.001
    x1, y1, x2, y2 = mass_box(heat)
    assert x1 < 150 < x2 and y1 < 30 < y2
    inside = heat[y1:y2, x1:x2].sum() / heat.sum()
    assert 0.2 <= inside < 0.5  # the top 20 %, not the whole blob
    assert peak_xy(heat) == (150, 30)


@pytest.mark.parametrize(
    ("heat", "expected", "raises"),
    [
        (np.full((4, 6), -1.0, np.float32), (0, 0, 1, 1), does_not_raise()),  # no positive mass
        (np.eye(4, dtype=np.float32)[::-1], (0, 0, 4, 4), does_not_raise()),  # 4 equal peaks
        (np.zeros((0, 3), np.float32), None, pytest.raises(ValueError, match="empty")),
    ],
)
def test_mass_box_edge_cases(heat: np.ndarray, expected: Any, raises: Any) -> None:
    with raises:
        box = mass_box(heat, fraction=1.0 if heat.size and heat.max() > 0 else 0.2)
        assert box == expected


def test_a_big_map_is_boxed_on_a_smaller_grid_and_scaled_back() -> None:
    heat = np.zeros((1080, 1920), np.float32)
    heat[500:600, 1000:1200] = 1.0
    x1, y1, x2, y2 = mass_box(heat, fraction=1.0)
    assert abs(x1 - 1000) <= 8 and abs(x2 - 1200) <= 8 and abs(y1 - 500) <= 8
    assert abs(y2 - 600) <= 8


def test_resize_and_overlay_keep_shapes_and_refuse_bad_maps() -> None:
    assert resize_map(np.ones((6, 6), np.float32), 40, 30).shape == (30, 40)
    image = np.zeros((30, 40, 3), np.uint8)
    out = overlay(image, _blob(30, 40, 10, 10, 4), (5, 5, 15, 15))
    assert out.shape == image.shape and out.dtype == np.uint8
    with pytest.raises(ValueError, match="2-d"):
        resize_map(np.ones((2, 2, 2), np.float32), 4, 4)


def test_slic_follows_colour_edges_and_gives_connected_segments() -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = (0, 0, 255)  # a red right half
    labels = slic(image, segments=16)
    left, right = set(np.unique(labels[:, :32])), set(np.unique(labels[:, 32:]))
    assert not left & right  # no segment straddles the colour edge
    assert 8 <= labels.max() + 1 <= 32
    import cv2

    for k in range(labels.max() + 1):
        n, _ = cv2.connectedComponents((labels == k).astype(np.uint8), connectivity=4)
        assert n == 2, f"segment {k} is in {n - 1} pieces"


def test_weighted_ridge_recovers_a_linear_score() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((400, 5)) < 0.5).astype(np.float64)
    true = np.array([0.5, 0.0, -0.25, 0.0, 1.0])
    y = x @ true + 0.1
    coef = weighted_ridge(x, y, np.ones(400), alpha=1e-6)
    assert np.allclose(coef, true, atol=1e-4)
    # the kernel favours samples close to the unperturbed image
    w = kernel_weights(np.array([[True] * 8, [True] * 4 + [False] * 4, [False] * 8]))
    assert w[0] == pytest.approx(1.0) and w[0] > w[1] > w[2]


def test_occlusion_grid_grows_its_stride_to_fit_the_budget() -> None:
    full = fit_grid((96, 96), 12, 6, passes=10_000)
    small = fit_grid((96, 96), 12, 6, passes=20)
    assert len(full) == 15 * 15
    assert 1 <= len(small) <= 20
    covered = np.zeros((96, 96), bool)
    for y, x, side in small:
        covered[y : y + side, x : x + side] = True
    assert covered.all()  # a coarser walk still covers the image
