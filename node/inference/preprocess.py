"""Manifest-driven image preprocessing: a BGR frame becomes the tensor an input declares.

Pure functions (numpy + OpenCV resize). ``prepare_image`` returns the tensor and the
``Letterbox`` that maps model coordinates back to frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from schemas.manifest import InputSpec


@dataclass(frozen=True)
class Letterbox:
    """``frame_xy = (model_xy - (pad_x, pad_y)) / (scale_x, scale_y)``."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_frame(self, xy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map ``[..., 2k]`` interleaved x, y model coordinates back to frame pixels."""
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0::2] = (out[..., 0::2] - self.pad_x) / self.scale_x
        out[..., 1::2] = (out[..., 1::2] - self.pad_y) / self.scale_y
        return out


def fit(
    image: npt.NDArray[np.uint8], size: tuple[int, int], mode: str, pad_value: int
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Resize ``image`` (HxWxC) to ``size`` = (height, width) by stretching or letterboxing."""
    h, w = image.shape[:2]
    th, tw = size
    if mode == "stretch":
        out = cv2.resize(image, (tw, th), interpolation=cv2.INTER_LINEAR)
        return np.asarray(out, dtype=np.uint8), Letterbox(tw / w, th / h, 0.0, 0.0)
    r = min(th / h, tw / w)
    nh, nw = round(h * r), round(w * r)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((th, tw, image.shape[2]), pad_value, dtype=np.uint8)
    top, left = ((th - nh) // 2, (tw - nw) // 2) if mode == "letterbox_center" else (0, 0)
    canvas[top : top + nh, left : left + nw] = resized
    return canvas, Letterbox(r, r, float(left), float(top))


def prepare_image(
    image_bgr: npt.NDArray[np.uint8], spec: InputSpec
) -> tuple[npt.NDArray[Any], Letterbox]:
    """The batch-of-one tensor for ``spec`` from a BGR ``uint8`` frame."""
    size = spec.image_size()
    if size is None:
        raise ValueError(f"input {spec.name!r} is not a fixed-size image input")
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(
            f"expected an HxWx3 uint8 BGR image, got shape {image_bgr.shape} {image_bgr.dtype}"
        )
    fitted, box = fit(image_bgr, size, spec.resize, spec.pad_value)
    if spec.color == "RGB":
        fitted = fitted[..., ::-1]
    dtype = np.dtype(spec.dtype)
    if spec.normalization is None:
        pixels: npt.NDArray[Any] = fitted.astype(dtype, copy=False)
    else:
        n = spec.normalization
        mean = np.asarray(n.mean, dtype=np.float32)
        std = np.asarray(n.std, dtype=np.float32)
        pixels = ((fitted.astype(np.float32) * np.float32(n.scale) - mean) / std).astype(dtype)
    if spec.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels[None]), box
