"""Manifest-driven image preprocessing: a BGR frame becomes the tensor an input declares.

Pure functions (numpy + OpenCV resize). ``prepare_image`` returns the tensor and the
``Letterbox`` (``node.inference.letterbox``) that maps model coordinates back to frame pixels.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from node.inference.letterbox import Letterbox, Placement, check_image, letterbox
from schemas.manifest import InputSpec


def fit(
    image: npt.NDArray[np.uint8], size: tuple[int, int], mode: str, pad_value: int
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """Resize ``image`` (HxWx3) to ``size`` = (height, width): ``mode`` is the manifest's
    ``resize`` (``stretch``, ``letterbox_top_left`` or ``letterbox_center``)."""
    if mode == "stretch":
        check_image(image)
        h, w = image.shape[:2]
        th, tw = size
        out = cv2.resize(image, (tw, th), interpolation=cv2.INTER_LINEAR)
        return np.asarray(out, dtype=np.uint8), Letterbox(tw / w, th / h, 0.0, 0.0, (h, w))
    placement: Placement = "center" if mode == "letterbox_center" else "top_left"
    return letterbox(image, size, pad_value=pad_value, placement=placement)


def prepare_image(
    image_bgr: npt.NDArray[np.uint8], spec: InputSpec
) -> tuple[npt.NDArray[Any], Letterbox]:
    """The batch-of-one tensor for ``spec`` from a BGR ``uint8`` frame."""
    size = spec.image_size()
    if size is None:
        raise ValueError(f"input {spec.name!r} is not a fixed-size image input")
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
