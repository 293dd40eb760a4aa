"""YOLOX pre-processing: letterbox at the top-left corner, pad 114, BGR 0-255 float32 NCHW.

This matches YOLOX's ``preproc`` (no mean/std, no RGB swap, resized image pasted at (0, 0), the
scaled size truncated), so undoing it is a single division by ``ratio``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.inference.letterbox import letterbox

PAD_VALUE = 114


@dataclass(frozen=True)
class YoloxInput:
    """The model input plus what is needed to map boxes back to the frame."""

    tensor: npt.NDArray[np.float32]  # (1, 3, H, W)
    ratio: float  # input pixels per frame pixel
    frame_hw: tuple[int, int]


def preprocess(
    image: npt.NDArray[np.uint8], input_hw: tuple[int, int], pad_value: int = PAD_VALUE
) -> YoloxInput:
    """Resize ``image`` (HxWx3 uint8 BGR) to fit ``input_hw`` keeping its aspect, pad the rest."""
    # int() truncation as in YOLOX's own preproc, so boxes map back identically.
    padded, lb = letterbox(image, input_hw, pad_value=pad_value, rounding="truncate")
    tensor = np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32)
    return YoloxInput(tensor=tensor, ratio=lb.scale_x, frame_hw=lb.frame_hw)
