"""YuNet face detection: pure pre/post-processing around the raw ONNX outputs.

The model (``yunet_n_320_320.onnx``) takes a fixed 1x3x320x320 BGR float input (0-255, no
normalisation) and returns, per stride s in (8, 16, 32), one row per grid cell ("prior"):
``cls_s``/``obj_s`` (N,1), ``bbox_s`` (N,4) and ``kps_s`` (N,10). Decoding follows OpenCV's
``FaceDetectorYN``: score = sqrt(cls * obj), centre = (cell + offset) * s, size = exp(raw) * s,
landmark = (cell + offset) * s.

Any frame size is letterboxed top-left into the square input (aspect kept, zero pad), so mapping
back is a single division. Very large frames are shrunk first in the same scale factor: resizing
a 4000 px image straight to 320 aliases badly and produces duplicate boxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.detect.nms import nms
from node.inference.letterbox import Letterbox, letterbox

F32 = npt.NDArray[np.float32]
Runner = Callable[[dict[str, F32]], dict[str, F32]]

INPUT_NAME = "input"
STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class FaceDetections:
    """Faces in frame pixels: ``boxes`` (N,4) xyxy, ``scores`` (N,), ``landmarks`` (N,5,2).

    Landmark order (YuNet's): right eye, left eye, nose tip, right and left mouth corners, i.e.
    image-left eye first, the same order as the ArcFace template in ``node.face.align``.
    """

    boxes: F32
    scores: F32
    landmarks: F32

    def __post_init__(self) -> None:
        n = self.boxes.shape[0]
        if self.boxes.shape != (n, 4) or self.scores.shape != (n,):
            raise ValueError(
                f"boxes must be (N,4) and scores (N,), got {self.boxes.shape} {self.scores.shape}"
            )
        if self.landmarks.shape != (n, 5, 2):
            raise ValueError(f"landmarks must be ({n},5,2), got {self.landmarks.shape}")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @classmethod
    def empty(cls) -> FaceDetections:
        z = np.zeros
        return cls(z((0, 4), np.float32), z((0,), np.float32), z((0, 5, 2), np.float32))

    def take(self, idx: npt.NDArray[np.intp]) -> FaceDetections:
        return FaceDetections(self.boxes[idx], self.scores[idx], self.landmarks[idx])


def preprocess(image: npt.NDArray[np.uint8], size: int = 320) -> tuple[F32, Letterbox]:
    """BGR uint8 HxWx3 → (1,3,size,size) float32 blob, aspect kept, padded bottom/right."""
    # INTER_AREA averages source pixels: the single-step equivalent of "shrink first", no aliasing
    canvas, lb = letterbox(image, (size, size), interpolation="area_when_shrinking")
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    return blob, lb


def _priors(stride: int, size: int) -> tuple[F32, F32]:
    cols = rows = size // stride
    r, c = np.divmod(np.arange(rows * cols, dtype=np.float32), np.float32(cols))
    return c.astype(np.float32), r.astype(np.float32)


def decode(
    outputs: dict[str, F32], size: int = 320, score_threshold: float = 0.6
) -> FaceDetections:
    """Raw YuNet outputs → candidate faces in input pixels (before NMS)."""
    boxes, scores, kps = [], [], []
    for s in STRIDES:
        cls = np.clip(outputs[f"cls_{s}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{s}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        keep = score >= score_threshold
        if not keep.any():
            continue
        cx0, cy0 = _priors(s, size)
        bb = outputs[f"bbox_{s}"].reshape(-1, 4)[keep]
        kp = outputs[f"kps_{s}"].reshape(-1, 5, 2)[keep]
        cx, cy = cx0[keep], cy0[keep]
        ctr_x, ctr_y = (cx + bb[:, 0]) * s, (cy + bb[:, 1]) * s
        bw, bh = np.exp(bb[:, 2]) * s, np.exp(bb[:, 3]) * s
        boxes.append(np.stack([ctr_x - bw / 2, ctr_y - bh / 2, ctr_x + bw / 2, ctr_y + bh / 2], 1))
        lm = np.empty_like(kp)
        lm[:, :, 0] = (kp[:, :, 0] + cx[:, None]) * s
        lm[:, :, 1] = (kp[:, :, 1] + cy[:, None]) * s
        kps.append(lm)
        scores.append(score[keep])
    if not boxes:
        return FaceDetections.empty()
    return FaceDetections(
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(kps).astype(np.float32),
    )


def to_frame(det: FaceDetections, lb: Letterbox) -> FaceDetections:
    """Map input-pixel detections back to the frame and clip boxes to it."""
    frame_h, frame_w = lb.frame_hw
    boxes = det.boxes / lb.scale_x
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, frame_w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, frame_h)
    return FaceDetections(boxes.astype(np.float32), det.scores, det.landmarks / lb.scale_x)


@dataclass
class YuNetDetector:
    """Runs YuNet through an injected runner (``feeds -> named outputs``) and decodes."""

    run: Runner
    size: int = 320
    score_threshold: float = 0.6
    nms_threshold: float = 0.3
    top_k: int = 50

    def detect(self, image: npt.NDArray[np.uint8]) -> FaceDetections:
        blob, lb = preprocess(image, self.size)
        raw = self.run({INPUT_NAME: blob})
        cand = decode(raw, self.size, self.score_threshold)
        if len(cand) == 0:
            return cand
        keep = nms(cand.boxes, cand.scores, self.nms_threshold, top_k=self.top_k)
        return to_frame(cand.take(keep), lb)
