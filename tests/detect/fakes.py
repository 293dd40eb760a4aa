"""Test builders: the pinned YOLOX-nano manifest and a fake session that emits chosen boxes.

The fake encodes boxes into raw YOLOX rows (the inverse of the decode), so tests of everything
downstream of the model run without ONNX Runtime and with exactly known detections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from schemas.manifest import ModelManifest

REPO = Path(__file__).resolve().parents[2]


def yolox_manifest(name: str = "yolox_nano") -> ModelManifest:
    raw = yaml.safe_load((REPO / "models" / "registry.yaml").read_text())
    return ModelManifest.model_validate(raw["models"][name]["manifest"])


def encode_boxes(
    boxes: Sequence[tuple[float, float, float, float, int, float]],
    input_hw: tuple[int, int] = (416, 416),
    num_classes: int = 80,
    stride: int = 32,
) -> npt.NDArray[np.float32]:
    """Raw (1, N, 5+C) YOLOX output with one row per ``(x1, y1, x2, y2, class, score)`` in
    *input* pixels, placed on the stride-``stride`` grid cell containing the box centre."""
    strides = (8, 16, 32)
    counts = [(input_hw[0] // s) * (input_hw[1] // s) for s in strides]
    out = np.zeros((sum(counts), 5 + num_classes), dtype=np.float32)
    base = sum(counts[: strides.index(stride)])
    cols = input_hw[1] // stride
    for x1, y1, x2, y2, cls, score in boxes:
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        gx, gy = int(cx // stride), int(cy // stride)
        row = base + gy * cols + gx
        out[row, 0:4] = [cx / stride - gx, cy / stride - gy, np.log(w / stride), np.log(h / stride)]
        out[row, 4] = 1.0
        out[row, 5 + cls] = score
    return out[None]


class FakeSession:
    """Plays back one raw output per ``run`` call (the last one repeats)."""

    def __init__(self, outputs: Sequence[npt.NDArray[np.float32]], manifest: ModelManifest) -> None:
        self._outputs = list(outputs)
        self.manifest = manifest
        self.calls = 0
        self.last_feeds: dict[str, Any] = {}

    def run(self, feeds: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
        self.last_feeds = dict(feeds)
        out = self._outputs[min(self.calls, len(self._outputs) - 1)]
        self.calls += 1
        return [out]
