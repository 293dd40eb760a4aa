"""Pre-processing of the fire/smoke classifier: the one function training, export, evaluation and
the node share, so a frame is seen the same way everywhere."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_rgb(
    rgb: npt.NDArray[np.uint8],
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> npt.NDArray[np.float32]:
    """HxWx3 uint8 RGB -> 3xHxW float32, scaled to 0-1 and standardised per channel."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected HxWx3 uint8 RGB, got shape {rgb.shape} dtype {rgb.dtype}")
    scaled = rgb.astype(np.float32) / np.float32(255.0)
    x = (scaled - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


def preprocess(
    image_bgr: npt.NDArray[np.uint8],
    size: int,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> npt.NDArray[np.float32]:
    """A whole BGR frame -> the 1x3xSxS model input.

    The frame is squashed (not letterboxed) to ``size`` x ``size``: fire and smoke are textures, the
    aspect change does not hurt them, and the CAM then maps linearly back onto the full frame.
    INTER_AREA because frames are usually much larger than the input.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(
            f"expected HxWx3 uint8 BGR, got shape {image_bgr.shape} dtype {image_bgr.dtype}"
        )
    small = cv2.resize(image_bgr, (size, size), interpolation=cv2.INTER_AREA)
    rgb = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB), dtype=np.uint8)
    return normalize_rgb(rgb, mean, std)[None]
