from __future__ import annotations

from contextlib import AbstractContextManager
from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from node.detect.preprocess import PAD_VALUE, preprocess


@pytest.mark.parametrize(
    ("frame_hw", "input_hw", "ratio", "content_hw", "expectation"),
    [
        ((416, 416), (416, 416), 1.0, (416, 416), does_not_raise()),
        ((720, 1280), (416, 416), 0.325, (234, 416), does_not_raise()),  # wide: pad below
        ((1080, 810), (416, 416), 416 / 1080, (416, 312), does_not_raise()),  # tall: pad right
        ((100, 50), (416, 416), 4.16, (416, 208), does_not_raise()),  # upscaled
        ((1, 2000), (416, 416), 0.208, (1, 416), does_not_raise()),  # at least one row
        ((10, 10), (0, 416), 0.0, (0, 0), pytest.raises(ValueError, match="positive")),
    ],
)
def test_yolox_input_geometry(
    frame_hw: tuple[int, int],
    input_hw: tuple[int, int],
    ratio: float,
    content_hw: tuple[int, int],
    expectation: AbstractContextManager[object],
) -> None:
    image = np.full((*frame_hw, 3), 7, dtype=np.uint8)
    with expectation:
        lb = preprocess(image, input_hw)
        assert lb.tensor.shape == (1, 3, *input_hw)
        assert lb.tensor.dtype == np.float32
        assert lb.ratio == pytest.approx(ratio)
        assert lb.frame_hw == frame_hw
        h, w = content_hw
        # content at the top-left corner, 114 everywhere else
        assert np.all(lb.tensor[0, :, :h, :w] == 7)
        assert np.all(lb.tensor[0, :, h:, :] == PAD_VALUE)
        assert np.all(lb.tensor[0, :, :, w:] == PAD_VALUE)


def test_yolox_input_keeps_bgr_order_and_raw_values() -> None:
    image = np.zeros((416, 416, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 250  # B, G, R
    t = preprocess(image, (416, 416)).tensor
    assert (t[0, 0, 0, 0], t[0, 1, 0, 0], t[0, 2, 0, 0]) == (10.0, 20.0, 250.0)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((10, 10), dtype=np.uint8), "HxWx3"),
        (np.zeros((10, 10, 4), dtype=np.uint8), "HxWx3"),
        (np.zeros((10, 10, 3), dtype=np.float32), "uint8"),
        (np.zeros((0, 10, 3), dtype=np.uint8), "empty"),
    ],
)
def test_yolox_input_rejects_bad_images(image: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        preprocess(image, (416, 416))
