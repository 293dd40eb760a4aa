"""YOLOX pre-processing: letterbox at the top-left corner, pad 114, BGR 0-255 float32 NCHW.

This matches YOLOX's ``preproc`` (no mean/std, no RGB swap, resized image pasted at (0, 0)), so
undoing it is a single division by ``ratio``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """The model input plus what is needed to map boxes back to the frame."""

    tensor: npt.NDArray[np.float32]  # (1, 3, H, W)
    ratio: float  # input pixels per frame pixel
    frame_hw: tuple[int, int]


def letterbox(
    image: npt.NDArray[np.uint8], input_hw: tuple[int, int], pad_value: int = PAD_VALUE
) -> Letterbox:
    """Resize ``image`` (HxWx3 uint8 BGR) to fit ``input_hw`` keeping its aspect, pad the rest."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be HxWx3 uint8 BGR, got shape {image.shape} {image.dtype}")
    in_h, in_w = input_hw
    if in_h <= 0 or in_w <= 0:
        raise ValueError(f"input size must be positive, got {input_hw}")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    ratio = min(in_h / h, in_w / w)
    # int() truncation as in YOLOX's own preproc, so boxes map back identically; at least 1 px.
    new_w, new_h = max(1, int(w * ratio)), max(1, int(h * ratio))
    padded = np.full((in_h, in_w, 3), pad_value, dtype=np.uint8)
    if (new_w, new_h) == (w, h):
        padded[:h, :w] = image
    else:
        padded[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    tensor = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
    return Letterbox(tensor=tensor, ratio=ratio, frame_hw=(h, w))
