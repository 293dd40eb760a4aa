"""Camera-motion compensation: the median shift of background corners is the pan; people's
own motion is excluded."""

from __future__ import annotations

import numpy as np
import pytest

from node.movement.camera_motion import PanEstimator, background_mask


def _scene(rng: np.random.Generator, w: int = 960, h: int = 540) -> np.ndarray:
    """A textured background wider than the view (blocks of random grey, so corners exist)."""
    small = rng.integers(0, 255, (h // 12, (w + 400) // 12), dtype=np.uint8)
    big = np.kron(small, np.ones((12, 12), np.uint8))
    return np.repeat(big[:, :, None], 3, axis=2)


def _view(scene: np.ndarray, x: int, w: int = 960) -> np.ndarray:
    return np.ascontiguousarray(scene[:, x:x + w])


@pytest.mark.parametrize("pan", [0, 6, -9])
def test_pan_is_the_background_shift(pan: int) -> None:
    rng = np.random.default_rng(3)
    scene = _scene(rng)
    est = PanEstimator()
    no_people = np.zeros((0, 4), np.float32)
    x = 200
    for _ in range(6):
        est.update(_view(scene, x), no_people)
        x += pan  # the camera turns right: the background moves left in the image
    # 5 steps of -pan pixels each in the image (the first frame only sets the reference)
    assert est.offset[0] == pytest.approx(-5 * pan, abs=2.0)
    assert abs(est.offset[1]) <= 2.0
    assert est.last_points >= 12


def test_a_moving_person_is_not_the_camera() -> None:
    rng = np.random.default_rng(4)
    scene = _scene(rng)
    est = PanEstimator()
    person = rng.integers(0, 255, (200, 80, 3), dtype=np.uint8)
    for k in range(6):
        img = _view(scene, 200).copy()
        px = 300 + 25 * k  # a fast, textured walker crossing a still view
        img[200:400, px:px + 80] = person
        est.update(img, np.asarray([[px, 200, px + 80, 400]], np.float32))
    assert np.all(np.abs(est.offset) <= 2.0)


def test_reset_and_mask() -> None:
    m = background_mask((100, 100), np.asarray([[10, 10, 30, 50]], np.float32))
    assert m[30, 20] == 0 and m[90, 90] == 255
    est = PanEstimator()
    est.offset[:] = 5
    est.reset()
    assert np.all(est.offset == 0)
