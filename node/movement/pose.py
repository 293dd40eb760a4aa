"""MoveNet MultiPose pre- and post-processing (pure numpy).

Input: uint8 RGB ``[1, H, W, 3]`` (H, W multiples of 32); the frame is letterboxed at the top-left
corner with zeros. Output ``[1, 6, 56]``: per person 17 x (y, x, score) normalised to the *input*
image, then (ymin, xmin, ymax, xmax, score). Decoding undoes the letterbox so keypoints and boxes
are in frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.inference.letterbox import check_image, letterbox

NUM_KEYPOINTS = 17
KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
KP = {name: i for i, name in enumerate(KEYPOINTS)}


@dataclass(frozen=True)
class PoseInput:
    tensor: npt.NDArray[np.uint8]  # (1, H, W, 3) RGB
    ratio: float  # input pixels per frame pixel
    input_hw: tuple[int, int]
    frame_hw: tuple[int, int]


@dataclass(frozen=True, eq=False)
class Poses:
    """People of one frame: ``keypoints`` (N, 17, 3) as (x, y, score) in frame pixels,
    ``boxes`` (N, 4) xyxy frame pixels, ``scores`` (N,)."""

    keypoints: npt.NDArray[np.float32]
    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        n = self.boxes.shape[0] if self.boxes.ndim == 2 else -1
        if self.keypoints.shape != (n, NUM_KEYPOINTS, 3) or self.boxes.shape != (n, 4):
            raise ValueError(
                f"keypoints must be (N, 17, 3) and boxes (N, 4), got {self.keypoints.shape} "
                f"and {self.boxes.shape}"
            )
        if self.scores.shape != (n,):
            raise ValueError(f"scores must be ({n},), got {self.scores.shape}")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @classmethod
    def empty(cls) -> Poses:
        return cls(
            np.zeros((0, NUM_KEYPOINTS, 3), np.float32),
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
        )


def preprocess(
    image_bgr: npt.NDArray[np.uint8], input_hw: tuple[int, int] = (256, 256)
) -> PoseInput:
    """Letterbox a BGR frame into MoveNet's uint8 RGB input (top-left, zero padding)."""
    check_image(image_bgr)
    in_h, in_w = input_hw
    if in_h <= 0 or in_w <= 0 or in_h % 32 or in_w % 32:
        raise ValueError(f"MoveNet input size must be positive multiples of 32, got {input_hw}")
    canvas, lb = letterbox(image_bgr, input_hw, interpolation="area")
    rgb = np.ascontiguousarray(canvas[None, :, :, ::-1])
    return PoseInput(rgb, lb.scale_x, (in_h, in_w), lb.frame_hw)


def input_size_for(frame_hw: tuple[int, int], long_side: int = 256) -> tuple[int, int]:
    """Input (H, W) with ``long_side`` on the frame's long side and the other side rounded up
    to a multiple of 32, so a 16:9 frame does not waste 44% of the input on padding."""
    h, w = frame_hw
    if h <= 0 or w <= 0:
        raise ValueError(f"frame size must be positive, got {frame_hw}")
    if long_side % 32:
        raise ValueError(f"long_side must be a multiple of 32, got {long_side}")
    short = int(np.ceil(long_side * min(h, w) / max(h, w) / 32.0) * 32)
    return (long_side, short) if h >= w else (short, long_side)


def decode(
    raw: npt.NDArray[np.float32], pin: PoseInput, min_score: float = 0.2
) -> Poses:
    """``[1, 6, 56]`` (or ``[6, 56]``) MoveNet output -> ``Poses`` in frame pixels, people whose
    box score is at least ``min_score``, best first."""
    out = raw[0] if raw.ndim == 3 else raw
    if out.ndim != 2 or out.shape[1] != 56:
        raise ValueError(f"MoveNet output must be (1, N, 56) or (N, 56), got {raw.shape}")
    out = out.astype(np.float32, copy=False)
    keep = out[:, 55] >= min_score
    out = out[keep][np.argsort(-out[keep][:, 55], kind="stable")]
    in_h, in_w = pin.input_hw
    h, w = pin.frame_hw
    kp = out[:, :51].reshape(-1, NUM_KEYPOINTS, 3)
    xs = np.clip(kp[:, :, 1] * in_w / pin.ratio, 0, w)
    ys = np.clip(kp[:, :, 0] * in_h / pin.ratio, 0, h)
    keypoints = np.stack([xs, ys, kp[:, :, 2]], axis=2).astype(np.float32)
    b = out[:, 51:55]
    boxes = np.stack(
        [b[:, 1] * in_w, b[:, 0] * in_h, b[:, 3] * in_w, b[:, 2] * in_h], axis=1
    ) / np.float32(pin.ratio)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
    return Poses(keypoints, boxes.astype(np.float32), out[:, 55].copy())
