"""MoveNet pre/post-processing: letterbox, decode back to frame pixels, contract errors."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pytest

from node.movement.pose import decode, input_size_for, preprocess


def _raw(people: list[tuple[list[tuple[float, float, float]], tuple[float, ...]]]) -> np.ndarray:
    raw = np.zeros((1, 6, 56), np.float32)
    for k, (kps, box) in enumerate(people):
        raw[0, k, :51] = np.asarray(kps, np.float32).reshape(-1)
        raw[0, k, 51:56] = box
    return raw


def test_preprocess_letterboxes_top_left_rgb() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :, 0] = 255  # blue in BGR
    pin = preprocess(img, (256, 256))
    assert pin.tensor.shape == (1, 256, 256, 3) and pin.tensor.dtype == np.uint8
    assert pin.ratio == pytest.approx(1.28)
    assert pin.tensor[0, 0, 0].tolist() == [0, 0, 255]  # RGB: blue is last
    assert pin.tensor[0, 200, 10].tolist() == [0, 0, 0]  # padding under the image


def test_decode_maps_back_to_frame_pixels() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    pin = preprocess(img, (256, 256))  # ratio 1.28, image occupies 256 x 128
    # keypoint at input (y=64, x=128) -> frame (x=100, y=50); box input (0,0)-(128,256)
    kps = [(64 / 256, 128 / 256, 0.9)] * 17
    raw = _raw([(kps, (0.0, 0.0, 128 / 256, 1.0, 0.8)), (kps, (0, 0, 0.1, 0.1, 0.05))])
    poses = decode(raw, pin, min_score=0.2)
    assert len(poses) == 1
    np.testing.assert_allclose(poses.keypoints[0, 0], [100.0, 50.0, 0.9], atol=1e-4)
    np.testing.assert_allclose(poses.boxes[0], [0, 0, 200, 100], atol=1e-3)
    assert poses.scores[0] == pytest.approx(0.8)


def test_decode_sorts_best_first() -> None:
    pin = preprocess(np.zeros((64, 64, 3), np.uint8), (256, 256))
    kps = [(0.5, 0.5, 0.5)] * 17
    raw = _raw([(kps, (0, 0, 0.5, 0.5, 0.3)), (kps, (0, 0, 0.5, 0.5, 0.9))])
    assert decode(raw, pin).scores.tolist() == pytest.approx([0.9, 0.3])


@pytest.mark.parametrize(
    ("hw", "long_side", "expected", "raises"),
    [
        ((1080, 1920), 256, (160, 256), nullcontext()),
        ((480, 640), 256, (192, 256), nullcontext()),
        ((1920, 1080), 256, (256, 160), nullcontext()),
        ((224, 224), 256, (256, 256), nullcontext()),
        ((0, 10), 256, None, pytest.raises(ValueError)),
        ((10, 10), 250, None, pytest.raises(ValueError)),
    ],
)
def test_input_size_for(hw: tuple[int, int], long_side: int, expected: Any,
                        raises: AbstractContextManager[Any]) -> None:
    with raises:
        assert input_size_for(hw, long_side) == expected


@pytest.mark.parametrize(
    ("arg", "raises"),
    [
        (np.zeros((1, 6, 55), np.float32), pytest.raises(ValueError, match="56")),
        (np.zeros((6, 56), np.float32), nullcontext()),
    ],
)
def test_decode_checks_shape(arg: np.ndarray, raises: AbstractContextManager[Any]) -> None:
    pin = preprocess(np.zeros((32, 32, 3), np.uint8), (256, 256))
    with raises:
        decode(arg, pin)


def test_preprocess_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        preprocess(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="multiples of 32"):
        preprocess(np.zeros((10, 10, 3), np.uint8), (100, 100))


def test_real_movenet_finds_the_person(shared_data: Any) -> None:
    """The real model on a real image: one confident person whose nose is above its ankles."""
    import cv2
    import onnxruntime as ort

    sess = ort.InferenceSession(str(shared_data.path("models/movenet_multipose_lightning.onnx")),
                                providers=["CPUExecutionProvider"])
    img = cv2.imread(str(shared_data.path("datasets/images/zidane.jpg")))
    pin = preprocess(img, input_size_for(img.shape[:2], 256))
    poses = decode(sess.run(None, {sess.get_inputs()[0].name: pin.tensor})[0], pin, 0.3)
    assert len(poses) >= 1
    best = poses.keypoints[0]
    assert best[0, 1] < best[11, 1]  # nose above hip (image y grows downwards)
    x0, y0, x1, y1 = poses.boxes[0]
    assert 0 <= x0 < x1 <= img.shape[1] and 0 <= y0 < y1 <= img.shape[0]
