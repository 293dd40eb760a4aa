"""YOLOX output decoding (anchor-free, strides 8/16/32) into ``Detections``.

Raw output rows are ``[x, y, w, h, obj, cls_0 .. cls_{C-1}]`` per grid cell, cells ordered stride
by stride, row-major within a stride. Decoding:

* ``xy = (raw_xy + grid_xy) * stride``; ``wh = exp(raw_wh) * stride`` (letterboxed input pixels);
* ``score = obj * cls`` (the pinned ``yolox_nano.onnx`` already applies the sigmoid in-graph;
  pass ``apply_sigmoid=True`` for exports that do not);
* boxes are divided by the letterbox ratio and clipped to the frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from node.detect.detections import Detections
from node.detect.nms import class_aware_nms
from node.detect.preprocess import preprocess
from schemas.manifest import ModelManifest, YoloxDecoding

STRIDES: tuple[int, ...] = (8, 16, 32)


def make_grid(
    input_hw: tuple[int, int], strides: Sequence[int] = STRIDES
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Grid cell offsets (N, 2) as (x, y) and the stride of each cell (N, 1)."""
    grids, expanded = [], []
    for s in strides:
        hs, ws = input_hw[0] // s, input_hw[1] // s
        xv, yv = np.meshgrid(np.arange(ws), np.arange(hs))
        grids.append(np.stack((xv, yv), axis=2).reshape(-1, 2))
        expanded.append(np.full((hs * ws, 1), s))
    return (
        np.concatenate(grids).astype(np.float32),
        np.concatenate(expanded).astype(np.float32),
    )


def _sigmoid(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def decode(
    raw: npt.NDArray[np.float32],
    input_hw: tuple[int, int],
    strides: Sequence[int] = STRIDES,
    apply_sigmoid: bool = False,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Decode raw YOLOX output (N, 5+C) or (1, N, 5+C).

    Returns boxes (N, 4) xyxy in input pixels and class scores (N, C) = obj * cls.
    """
    out = raw[0] if raw.ndim == 3 else raw
    if out.ndim != 2 or out.shape[1] < 6:
        raise ValueError(f"YOLOX output must be (N, 5+C) or (1, N, 5+C), got {raw.shape}")
    grid, stride = make_grid(input_hw, strides)
    if out.shape[0] != grid.shape[0]:
        raise ValueError(
            f"YOLOX output has {out.shape[0]} rows, input {input_hw} with strides "
            f"{tuple(strides)} needs {grid.shape[0]}"
        )
    out = out.astype(np.float32, copy=False)
    xy = (out[:, 0:2] + grid) * stride
    # clip before exp: a corrupt output must not overflow into inf boxes
    wh = np.exp(np.clip(out[:, 2:4], -20.0, 20.0)) * stride
    obj, cls = out[:, 4:5], out[:, 5:]
    if apply_sigmoid:
        obj, cls = _sigmoid(obj), _sigmoid(cls)
    boxes = np.concatenate([xy - wh / 2.0, xy + wh / 2.0], axis=1).astype(np.float32)
    return boxes, (obj * cls).astype(np.float32)


def postprocess(
    raw: npt.NDArray[np.float32],
    *,
    input_hw: tuple[int, int],
    ratio: float,
    frame_hw: tuple[int, int],
    labels: Sequence[str],
    score_threshold: float,
    iou_threshold: float,
    strides: Sequence[int] = STRIDES,
    apply_sigmoid: bool = False,
) -> Detections:
    """Decode, keep each cell's best class over the threshold, class-aware NMS, map to frame."""
    boxes, scores = decode(raw, input_hw, strides, apply_sigmoid)
    if scores.shape[1] != len(labels):
        raise ValueError(f"model has {scores.shape[1]} classes but {len(labels)} labels given")
    class_id = scores.argmax(axis=1)
    best = scores[np.arange(scores.shape[0]), class_id]
    keep = best >= score_threshold
    boxes, best, class_id = boxes[keep], best[keep], class_id[keep].astype(np.int64)
    order = class_aware_nms(boxes, best, class_id, iou_threshold)
    boxes = boxes[order] / np.float32(ratio)
    h, w = frame_hw
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
    names = np.asarray(labels, dtype=np.str_)
    return Detections.from_arrays(boxes, best[order], class_id[order], names[class_id[order]])


class DetectorSession(Protocol):
    """What the detector needs from a model session (``node.inference.ModelSession``)."""

    @property
    def manifest(self) -> ModelManifest: ...

    def run(self, feeds: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]: ...


def detect(
    session: DetectorSession,
    image: npt.NDArray[np.uint8],
    *,
    score_threshold: float,
    iou_threshold: float,
) -> Detections:
    """Run a YOLOX-family model described by its manifest on one BGR frame."""
    m = session.manifest
    if m.family != "yolox" or not isinstance(m.decoding, YoloxDecoding):
        raise ValueError(f"model {m.label} is family {m.family!r}, the detector needs 'yolox'")
    spec = m.inputs[0]
    input_hw = spec.image_size()
    if input_hw is None or spec.layout != "NCHW" or spec.color != "BGR":
        raise ValueError(
            f"model {m.label}: the YOLOX pre-processing feeds a fixed-size NCHW BGR input, "
            f"manifest says shape {spec.shape} layout {spec.layout} colour {spec.color}"
        )
    labels = m.labels or [str(i) for i in range(m.decoding.num_classes)]
    lb = preprocess(image, input_hw, spec.pad_value)
    raw = session.run({spec.name: lb.tensor})[0]
    return postprocess(
        np.asarray(raw, dtype=np.float32),
        input_hw=input_hw,
        ratio=lb.ratio,
        frame_hw=lb.frame_hw,
        labels=labels,
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        strides=m.decoding.strides,
        apply_sigmoid=not m.decoding.sigmoid_applied,
    )
