"""Pre-processing and the numpy metrics used by evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from models.fire import metrics
from node.fire.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize_rgb, preprocess


def test_preprocess_squashes_converts_to_rgb_and_standardises() -> None:
    img = np.zeros((40, 80, 3), np.uint8)
    img[..., 0] = 255  # pure blue in BGR
    x = preprocess(img, 16)
    assert x.shape == (1, 3, 16, 16) and x.dtype == np.float32
    # RGB order: channel 2 is blue
    np.testing.assert_allclose(x[0, 2], (1.0 - IMAGENET_MEAN[2]) / IMAGENET_STD[2], rtol=1e-6)
    np.testing.assert_allclose(x[0, 0], (0.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], rtol=1e-6)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)],
)
def test_preprocess_rejects_non_bgr_images(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        preprocess(bad, 8)
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        normalize_rgb(bad)


def test_prf1_and_confusion() -> None:
    t = [1, 1, 1, 0, 0]
    p = [1, 1, 0, 1, 0]
    assert metrics.prf1(t, p) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert metrics.confusion(t, p) == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}
    assert metrics.prf1([0, 0], [0, 0]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("t", "s", "auc"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
        ([0, 1], [0.5, 0.5], 0.5),
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
        ([1, 1], [0.2, 0.3], None),
    ],
)
def test_roc_auc(t: list[int], s: list[float], auc: float | None) -> None:
    assert metrics.roc_auc(t, s) == (pytest.approx(auc) if auc is not None else None)


def test_best_f1_threshold_respects_floor_and_separates() -> None:
    t = [0, 0, 1, 1]
    assert metrics.best_f1_threshold(t, [0.1, 0.62, 0.7, 0.9]) == pytest.approx(0.63)
    assert metrics.best_f1_threshold(t, [0.1, 0.2, 0.3, 0.4]) == 0.5  # floor
    assert metrics.best_f1_threshold([0, 0], [0.9, 0.9]) == 0.5


def test_enclosing() -> None:
    assert metrics.enclosing([(0.1, 0.2, 0.3, 0.4), (0.0, 0.5, 0.2, 0.6)]) == (0.0, 0.2, 0.3, 0.6)
