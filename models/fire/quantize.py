"""Static INT8 quantisation (QDQ) of the fire/smoke ONNX model with ONNX Runtime.

Calibrated on training images only (the ``fit`` split), pre-processed exactly as the node does.
Weights int8 per channel (7-bit range on CPUs without VNNI), activations uint8, MinMax
calibration; the neck and head stay FP32, both outputs stay float.

    python -m models.fire.quantize --fp32 models/fire/fire_fp32.onnx \\
        --out models/fire/fire_int8.onnx \\
        --data ../shared/datasets/fire_smoke --negatives ../shared/datasets/drones/images
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from models.fire.data import Sample, make_split
from node.fire.preprocess import preprocess

CALIBRATION_IMAGES = 300


class ImageReader(CalibrationDataReader):  # type: ignore[misc]
    def __init__(self, samples: Sequence[Sample], input_size: int) -> None:
        self._it: Iterator[dict[str, npt.NDArray[np.float32]]] = (
            {"input": preprocess(self._read(s.path), input_size)} for s in samples
        )

    @staticmethod
    def _read(path: Path) -> npt.NDArray[np.uint8]:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot decode {path}")
        return np.asarray(img, dtype=np.uint8)

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        return next(self._it, None)


def calibration_samples(samples: Sequence[Sample], n: int, seed: int) -> list[Sample]:
    """A seeded, class-stratified subset of training images."""
    rng = random.Random(seed)
    by_kind: dict[str, list[Sample]] = {}
    for s in samples:
        by_kind.setdefault(s.kind, []).append(s)
    per_kind = max(1, n // max(1, len(by_kind)))
    out: list[Sample] = []
    for kind in sorted(by_kind):
        group = by_kind[kind]
        out += rng.sample(group, min(per_kind, len(group)))
    return out


# What stays FP32 (``exclude``): ``head`` = the 1x1 neck conv, its ReLU6, the pooling, the linear
# head and the sigmoid. They are a sliver of the compute, but every score and the CAM feature map
# come out of them, so their rounding errors land straight on the decision and the box. In a seed
# ensemble (``models.fire.ensemble``: ``/members.N/...``) that is every member's, and the mean.
HEAD_PATTERN = re.compile(
    r"^/(net|members\.\d+)/(neck/|ReduceMean|head/)|^/Sigmoid(_\d+)?$|^/(Add|Div)(_\d+)?$"
)
EXCLUDE_CHOICES = ("none", "head", "head+depthwise")


def nodes_to_exclude(model_path: Path, exclude: str) -> list[str]:
    """Node names of ``model_path`` kept in FP32 for the ``exclude`` choice."""
    import onnx

    if exclude not in EXCLUDE_CHOICES:
        raise ValueError(f"exclude must be one of {EXCLUDE_CHOICES}, got {exclude!r}")
    if exclude == "none":
        return []
    graph = onnx.load(str(model_path)).graph
    out = [n.name for n in graph.node if HEAD_PATTERN.match(n.name)]
    if exclude == "head+depthwise":
        out += [
            n.name
            for n in graph.node
            if n.op_type == "Conv"
            and any(a.name == "group" and a.i > 1 for a in n.attribute)
        ]
    return out


def quantize(
    fp32: Path,
    out: Path,
    calib: Sequence[Sample],
    input_size: int,
    exclude: str = "head",
    reduce_range: bool = True,
    method: str = "minmax",
) -> dict[str, object]:
    """Static QDQ INT8: weights int8 per channel, activations uint8.

    ``reduce_range`` (7-bit weights): x86 CPUs without VNNI run u8 x s8 products with VPMADDUBSW,
    whose 16-bit intermediate sums saturate with full 8-bit weights (ONNX Runtime's
    quantisation docs); the first model lost 0.107 fire F1 to it. VNNI/SDOT CPUs do not need it.
    """
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    with tempfile.TemporaryDirectory() as tmp:
        prepped = Path(tmp) / "prepped.onnx"
        quant_pre_process(str(fp32), str(prepped), skip_symbolic_shape=True)
        excluded = nodes_to_exclude(prepped, exclude)
        quantize_static(
            str(prepped),
            str(out),
            ImageReader(calib, input_size),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            calibrate_method=methods[method],
            nodes_to_exclude=excluded,
        )
    return {
        "int8": str(out),
        "bytes": out.stat().st_size,
        "calibration_images": len(calib),
        "fp32_nodes": excluded,
        "reduce_range": reduce_range,
        "calibration": method,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fp32", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--negatives", type=Path, default=None)
    p.add_argument("--input-size", type=int, default=192)
    p.add_argument("--calibration-images", type=int, default=CALIBRATION_IMAGES)
    p.add_argument("--exclude", choices=EXCLUDE_CHOICES, default="head")
    p.add_argument("--no-reduce-range", action="store_true")
    p.add_argument("--calibration", choices=("minmax", "percentile", "entropy"), default="minmax")
    p.add_argument("--weapons", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--include-valid-clips", action="store_true")
    a = p.parse_args(argv)
    split = make_split(
        a.data,
        a.negatives,
        seed=a.seed,
        disjoint_from_test=not a.include_valid_clips,
        weapons_images=a.weapons,
    )
    calib = calibration_samples(split.fit, a.calibration_images, a.seed)
    result = quantize(
        a.fp32, a.out, calib, a.input_size, a.exclude, not a.no_reduce_range, a.calibration
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
