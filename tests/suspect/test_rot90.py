"""``train.py --rot90``: a quarter-turned copy's boxes are the tight box of the turned object.

Needs torch only because ``models.suspect.train`` imports it (skipped without)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from models.suspect.train import rot90


def _mask_box(mask: np.ndarray) -> np.ndarray:
    """Tight pixel-edge box (x1, y1, x2, y2) of a binary mask."""
    ys, xs = np.nonzero(mask)
    return np.asarray([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


@pytest.mark.parametrize("clockwise", [True, False])
def test_rot90_boxes_match_the_turned_mask(clockwise: bool) -> None:
    h, w = 48, 80  # not square, rectangles off-centre: a wrong direction or axis shows
    img = np.zeros((h, w, 3), np.uint8)
    rects = [(5, 7, 30, 20), (50, 30, 77, 45), (0, 0, 3, 48)]  # x1, y1, x2, y2 pixel edges
    boxes = []
    for k, (x1, y1, x2, y2) in enumerate(rects):
        img[y1:y2, x1:x2, k] = 255
        boxes.append([x1 / w, y1 / h, x2 / w, y2 / h])
    out, nb = rot90(img, np.asarray(boxes, np.float32), clockwise)
    oh, ow = out.shape[:2]
    assert (oh, ow) == (w, h)
    scale = np.asarray([ow, oh, ow, oh], np.float32)
    for k in range(len(rects)):
        np.testing.assert_allclose(nb[k] * scale, _mask_box(out[..., k] > 0), atol=1e-4)
    # the other direction puts these off-centre boxes elsewhere: the check above can fail
    _, other = rot90(img, np.asarray(boxes, np.float32), not clockwise)
    assert np.abs(other * scale - nb * scale).max() > 10


def test_rot90_no_boxes() -> None:
    out, nb = rot90(np.zeros((4, 6, 3), np.uint8), np.zeros((0, 4), np.float32), True)
    assert out.shape == (6, 4, 3) and nb.shape == (0, 4)
