"""Static INT8 quantisation (QDQ) of the fire/smoke ONNX model with ONNX Runtime.

Calibrated on training images only (the ``fit`` split), pre-processed exactly as the node does.
Weights int8 per channel, activations uint8, MinMax calibration; both outputs stay float.

    python -m models.fire.quantize --fp32 models/fire/fire_fp32.onnx \\
        --out models/fire/fire_int8.onnx \\
        --data ../shared/datasets/fire_smoke --negatives ../shared/datasets/drones/images
"""

from __future__ import annotations

import argparse
import json
import random
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


def quantize(
    fp32: Path, out: Path, calib: Sequence[Sample], input_size: int
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        prepped = Path(tmp) / "prepped.onnx"
        quant_pre_process(str(fp32), str(prepped), skip_symbolic_shape=True)
        quantize_static(
            str(prepped),
            str(out),
            ImageReader(calib, input_size),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return {"int8": str(out), "bytes": out.stat().st_size, "calibration_images": len(calib)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fp32", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--negatives", type=Path, default=None)
    p.add_argument("--input-size", type=int, default=192)
    p.add_argument("--calibration-images", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--include-valid-clips", action="store_true")
    a = p.parse_args(argv)
    split = make_split(
        a.data, a.negatives, seed=a.seed, disjoint_from_test=not a.include_valid_clips
    )
    calib = calibration_samples(split.fit, a.calibration_images, a.seed)
    print(json.dumps(quantize(a.fp32, a.out, calib, a.input_size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
