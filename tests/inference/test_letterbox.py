"""The one letterbox (``node.inference.letterbox``) against the four it replaced.

``_old_*`` are the letterboxes of YOLOX (``node/detect/preprocess.py``), YuNet
(``node/face/yunet.py``), MoveNet (``node/movement/pose.py``) and the manifest-driven
``node/inference/preprocess.py``, copied verbatim as they were at commit 758d424. Each model's
pre-processing, now built on the one letterbox, must give the same tensor, bit for bit, and the
same geometry, over frame sizes that shrink, enlarge, keep the size, and hit rounding edges.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.detect.preprocess import preprocess as yolox_preprocess
from node.face.yunet import preprocess as yunet_preprocess
from node.inference.letterbox import Letterbox, letterbox
from node.inference.preprocess import fit
from node.movement.pose import preprocess as pose_preprocess

U8 = npt.NDArray[np.uint8]


# --- the old copies (758d424), behaviour only ---------------------------------------------------
def _old_yolox(image: U8, input_hw: tuple[int, int], pad_value: int = 114) -> tuple[Any, ...]:
    in_h, in_w = input_hw
    h, w = image.shape[:2]
    ratio = min(in_h / h, in_w / w)
    new_w, new_h = max(1, int(w * ratio)), max(1, int(h * ratio))
    padded = np.full((in_h, in_w, 3), pad_value, dtype=np.uint8)
    if (new_w, new_h) == (w, h):
        padded[:h, :w] = image
    else:
        padded[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    tensor = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
    return tensor, ratio, (h, w)


def _old_yunet(image: U8, size: int = 320) -> tuple[Any, ...]:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[:nh, :nw] = resized
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    return blob, scale, w, h


def _old_pose(image_bgr: U8, input_hw: tuple[int, int]) -> tuple[Any, ...]:
    in_h, in_w = input_hw
    h, w = image_bgr.shape[:2]
    ratio = min(in_h / h, in_w / w)
    new_w, new_h = max(1, round(w * ratio)), max(1, round(h * ratio))
    new_w, new_h = min(new_w, in_w), min(new_h, in_h)
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((in_h, in_w, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = resized[:, :, ::-1]  # BGR -> RGB
    return canvas[None], ratio, (in_h, in_w), (h, w)


def _old_fit(image: U8, size: tuple[int, int], mode: str, pad_value: int) -> tuple[Any, ...]:
    h, w = image.shape[:2]
    th, tw = size
    if mode == "stretch":
        out = cv2.resize(image, (tw, th), interpolation=cv2.INTER_LINEAR)
        return np.asarray(out, dtype=np.uint8), (tw / w, th / h, 0.0, 0.0)
    r = min(th / h, tw / w)
    nh, nw = round(h * r), round(w * r)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((th, tw, image.shape[2]), pad_value, dtype=np.uint8)
    top, left = ((th - nh) // 2, (tw - nw) // 2) if mode == "letterbox_center" else (0, 0)
    canvas[top : top + nh, left : left + nw] = resized
    return canvas, (r, r, float(left), float(top))


# --- frames ---------------------------------------------------------------------------------
# shrink, enlarge, same size, extreme aspects, odd sizes where rounding and truncation differ
FRAME_HW = [
    (480, 640), (640, 480), (1080, 1920), (1920, 1080), (416, 416), (320, 320), (256, 256),
    (100, 1000), (1000, 100), (37, 53), (53, 37), (333, 500), (720, 1279), (2000, 3000), (3, 7),
    (1, 2000), (2000, 1),
]  # fmt: skip


def _frame(hw: tuple[int, int]) -> U8:
    """Noise plus a gradient: interpolation differences cannot hide in flat areas."""
    h, w = hw
    rng = np.random.default_rng(h * 10007 + w)
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    ramp = (np.arange(w, dtype=np.uint16)[None, :, None] * 255 // max(1, w - 1)).astype(np.uint8)
    return np.ascontiguousarray(np.where(rng.random((h, w, 1)) < 0.5, noise, ramp))


def _id(hw: tuple[int, int]) -> str:
    return f"{hw[0]}x{hw[1]}"


@pytest.mark.parametrize("frame_hw", FRAME_HW, ids=_id)
@pytest.mark.parametrize("input_hw", [(416, 416), (640, 640), (320, 416)], ids=_id)
def test_yolox_quirks_truncate_pad_114(frame_hw: tuple[int, int], input_hw: tuple[int, int]
                                       ) -> None:
    image = _frame(frame_hw)
    tensor, ratio, hw = _old_yolox(image, input_hw)
    new = yolox_preprocess(image, input_hw)
    np.testing.assert_array_equal(new.tensor, tensor)
    assert new.tensor.dtype == np.float32 and new.tensor.flags.c_contiguous
    assert (new.ratio, new.frame_hw) == (ratio, hw)


@pytest.mark.parametrize("frame_hw", FRAME_HW, ids=_id)
@pytest.mark.parametrize("size", [320, 160])
def test_yunet_quirks_area_when_shrinking_zero_pad(frame_hw: tuple[int, int], size: int) -> None:
    image = _frame(frame_hw)
    blob, scale, w, h = _old_yunet(image, size)
    new_blob, lb = yunet_preprocess(image, size)
    np.testing.assert_array_equal(new_blob, blob)
    assert new_blob.dtype == np.float32
    assert (lb.scale_x, lb.scale_y, lb.frame_hw) == (scale, scale, (h, w))


@pytest.mark.parametrize("frame_hw", FRAME_HW, ids=_id)
@pytest.mark.parametrize("input_hw", [(256, 256), (256, 160), (160, 256), (192, 256)], ids=_id)
def test_movenet_quirks_area_rgb_uint8(frame_hw: tuple[int, int], input_hw: tuple[int, int]
                                       ) -> None:
    image = _frame(frame_hw)
    tensor, ratio, in_hw, hw = _old_pose(image, input_hw)
    new = pose_preprocess(image, input_hw)
    np.testing.assert_array_equal(new.tensor, tensor)
    assert new.tensor.dtype == np.uint8 and new.tensor.flags.c_contiguous
    assert (new.ratio, new.input_hw, new.frame_hw) == (ratio, in_hw, hw)


@pytest.mark.parametrize("frame_hw", [hw for hw in FRAME_HW if min(hw) > 1], ids=_id)
@pytest.mark.parametrize("size", [(416, 416), (256, 192)], ids=_id)
@pytest.mark.parametrize("mode", ["letterbox_top_left", "letterbox_center", "stretch"])
def test_manifest_fit_modes(frame_hw: tuple[int, int], size: tuple[int, int], mode: str) -> None:
    """(A 1-pixel-thin frame is left out: the old ``fit`` rounded it to 0 rows and crashed in
    ``cv2.resize``; the one letterbox keeps at least one.)"""
    image = _frame(frame_hw)
    canvas, geometry = _old_fit(image, size, mode, 114)
    new, lb = fit(image, size, mode, 114)
    np.testing.assert_array_equal(new, canvas)
    assert (lb.scale_x, lb.scale_y, lb.pad_x, lb.pad_y) == geometry
    assert lb.frame_hw == frame_hw


@pytest.mark.parametrize(
    ("frame_hw", "size_hw", "options", "content", "geometry"),
    [
        # 2x3 into 4x4 centred: 2.67 x 4 -> round 3 x 4, one row of padding split 0 above, 1 below
        ((2, 3), (4, 4), {"placement": "center"}, (0, 0, 3, 4), (4 / 3, 0.0, 0.0)),
        ((3, 2), (4, 4), {"placement": "center"}, (0, 0, 4, 3), (4 / 3, 0.0, 0.0)),
        ((2, 4), (4, 4), {"placement": "center"}, (1, 0, 2, 4), (1.0, 0.0, 1.0)),
        ((3, 7), (4, 4), {}, (0, 0, 2, 4), (4 / 7, 0.0, 0.0)),  # 1.71 rows -> round 2
        ((3, 7), (4, 4), {"rounding": "truncate"}, (0, 0, 1, 4), (4 / 7, 0.0, 0.0)),  # -> 1
        ((1, 50), (4, 4), {}, (0, 0, 1, 4), (0.08, 0.0, 0.0)),  # never 0 rows
    ],
)
def test_geometry_by_hand(
    frame_hw: tuple[int, int],
    size_hw: tuple[int, int],
    options: dict[str, Any],
    content: tuple[int, int, int, int],
    geometry: tuple[float, float, float],
) -> None:
    canvas, lb = letterbox(np.full((*frame_hw, 3), 9, np.uint8), size_hw, pad_value=1, **options)
    top, left, rows, cols = content
    assert canvas.shape == (*size_hw, 3)
    inside = np.zeros(size_hw, bool)
    inside[top : top + rows, left : left + cols] = True
    assert (canvas[inside] == 9).all() and (canvas[~inside] == 1).all()
    assert lb == Letterbox(geometry[0], geometry[0], geometry[1], geometry[2], frame_hw)


@pytest.mark.parametrize(
    ("image", "size_hw", "match"),
    [
        (np.zeros((10, 10), np.uint8), (4, 4), "HxWx3"),
        (np.zeros((10, 10, 4), np.uint8), (4, 4), "HxWx3"),
        (np.zeros((10, 10, 3), np.float32), (4, 4), "uint8"),
        (np.zeros((0, 10, 3), np.uint8), (4, 4), "empty"),
        (np.zeros((10, 10, 3), np.uint8), (0, 4), "positive"),
    ],
)
def test_bad_input_is_a_clear_error(image: Any, size_hw: tuple[int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        letterbox(image, size_hw)
