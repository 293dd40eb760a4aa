"""The one letterbox: fit a frame into a model input keeping its aspect, pad the rest.

Every model's pre-processing calls ``letterbox`` (YOLOX, YuNet, MoveNet, manifest-driven inputs);
the options carry the quirks each model was trained or tuned with, so each sees exactly the
pixels it always saw:

* ``placement``: the frame at the top-left corner (YOLOX, YuNet, MoveNet) or centred.
* ``rounding`` of the scaled size: ``round`` (most), or ``truncate`` (YOLOX's own ``preproc``,
  so boxes map back as they do upstream). Either way at least one pixel, at most the input.
* ``interpolation``: ``linear``; ``area`` (MoveNet, always); ``area_when_shrinking`` (YuNet:
  area averaging when the frame is larger than the input, so a 4000 px image does not alias into
  duplicate faces, linear when it is smaller).
* ``pad_value``: 114 for YOLOX, 0 for YuNet and MoveNet.

It returns the padded ``uint8`` image in the frame's channel order and the ``Letterbox`` that
maps model coordinates back; layout, colour order and dtype are each model's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

Placement = Literal["top_left", "center"]
Rounding = Literal["round", "truncate"]
Interpolation = Literal["linear", "area", "area_when_shrinking"]

_CV_INTERPOLATION = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}


@dataclass(frozen=True)
class Letterbox:
    """``frame_xy = (model_xy - (pad_x, pad_y)) / (scale_x, scale_y)``; ``frame_hw`` is the
    size of the frame that was fitted, for clipping mapped boxes to it."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_hw: tuple[int, int]

    def to_frame(self, xy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map ``[..., 2k]`` interleaved x, y model coordinates back to frame pixels."""
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0::2] = (out[..., 0::2] - self.pad_x) / self.scale_x
        out[..., 1::2] = (out[..., 1::2] - self.pad_y) / self.scale_y
        return out


def check_image(image: npt.NDArray[np.uint8]) -> None:
    """An HxWx3 ``uint8`` BGR image with pixels, or a ``ValueError`` that says what it got."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be HxWx3 uint8 BGR, got shape {image.shape} {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")


def letterbox(
    image: npt.NDArray[np.uint8],
    size_hw: tuple[int, int],
    *,
    pad_value: int = 0,
    placement: Placement = "top_left",
    rounding: Rounding = "round",
    interpolation: Interpolation = "linear",
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """``image`` (HxWx3 uint8) scaled by ``min(H_in / H, W_in / W)`` into a ``size_hw`` canvas
    of ``pad_value``; the canvas and how to map back."""
    check_image(image)
    th, tw = size_hw
    if th <= 0 or tw <= 0:
        raise ValueError(f"input size must be positive, got {size_hw}")
    h, w = image.shape[:2]
    r = min(th / h, tw / w)
    scaled = round if rounding == "round" else int
    nw, nh = min(tw, max(1, scaled(w * r))), min(th, max(1, scaled(h * r)))
    mode = interpolation
    if mode == "area_when_shrinking":
        mode = "area" if r < 1 else "linear"
    resized = cv2.resize(image, (nw, nh), interpolation=_CV_INTERPOLATION[mode])
    canvas = np.full((th, tw, image.shape[2]), pad_value, dtype=np.uint8)
    top, left = ((th - nh) // 2, (tw - nw) // 2) if placement == "center" else (0, 0)
    canvas[top : top + nh, left : left + nw] = resized
    return canvas, Letterbox(r, r, float(left), float(top), (h, w))
