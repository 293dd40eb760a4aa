"""prepare_image against a plain-numpy reference (nearest-size arithmetic written out by hand)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from node.inference.letterbox import Letterbox
from node.inference.preprocess import prepare_image
from node.registry.defaults import default_registry
from schemas.manifest import InputSpec, Normalization


def _frame(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_yolox_letterbox_top_left_bgr_nchw() -> None:
    spec = default_registry()["yolox_nano"].manifest.inputs[0]
    img = _frame(240, 320)
    x, box = prepare_image(img, spec)
    # Reference: scale 416/320 = 1.3, resized to 312x416, padded with 114 below.
    ref = np.full((416, 416, 3), 114, np.uint8)
    ref[:312] = cv2.resize(img, (416, 312), interpolation=cv2.INTER_LINEAR)
    ref_t = ref.astype(np.float32).transpose(2, 0, 1)[None]
    assert x.shape == (1, 3, 416, 416) and x.dtype == np.float32
    np.testing.assert_array_equal(x, ref_t)
    assert box == Letterbox(1.3, 1.3, 0.0, 0.0, (240, 320))


def test_mobilefacenet_rgb_normalised() -> None:
    spec = default_registry()["mobilefacenet"].manifest.inputs[0]
    img = _frame(112, 112)
    x, _ = prepare_image(img, spec)
    ref = ((img[..., ::-1].astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(x, ref, atol=1e-6)


def test_movenet_uint8_nhwc_centered_letterbox() -> None:
    spec = default_registry()["movenet_multipose"].manifest.inputs[0].model_copy(
        update={"resize": "letterbox_center"}
    )
    img = _frame(128, 256)
    x, box = prepare_image(img, spec)
    assert x.shape == (1, 256, 256, 3) and x.dtype == np.uint8
    assert box == Letterbox(1.0, 1.0, 0.0, 64.0, (128, 256))
    np.testing.assert_array_equal(x[0, 64:192], img[..., ::-1])
    assert (x[0, :64] == 0).all() and (x[0, 192:] == 0).all()


def test_letterbox_maps_back_to_frame() -> None:
    box = Letterbox(1.3, 1.3, 0.0, 10.0, (100, 100))
    model_xy = np.array([[13.0, 23.0, 130.0, 140.0]], np.float32)
    np.testing.assert_allclose(box.to_frame(model_xy), [[10.0, 10.0, 100.0, 100.0]], rtol=1e-6)


YUNET_IN = default_registry()["yunet"].manifest.inputs[0]


@pytest.mark.parametrize(
    ("image", "spec", "match"),
    [
        (np.zeros((10, 10), np.uint8), YUNET_IN, "HxWx3"),
        (np.zeros((10, 10, 3), np.float32), YUNET_IN, "uint8"),
        (np.zeros((10, 10, 3), np.uint8), InputSpec(name="seq", shape=[1, 32, 60]), "not a fixed"),
    ],
)
def test_bad_input_is_a_clear_error(image: np.ndarray, spec: InputSpec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        prepare_image(image, spec)


def test_normalization_rejects_mismatched_channels() -> None:
    with pytest.raises(ValueError, match="mean has 3 values but std has 1"):
        Normalization(mean=(0.0, 0.0, 0.0), std=(1.0,))
