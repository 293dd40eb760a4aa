"""Latency of ONNX detectors on the same frames, interleaved (numpy + ONNX Runtime, no torch).

    python -m models.suspect.latency models/suspect/suspect_yolox.onnx runs/suspect/single.onnx \\
        ../shared/models/yolox_nano.onnx --frames ../shared/datasets/videos --n 60

Each round runs every model once on the same frame (letterboxed to each model's input), so load
from other processes hits all models alike; one intra-op thread (the node's default on small
boxes). Reports the median and p90 of the session run time in ms and each median's ratio to the
first model's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from models.suspect.evaluate import OnnxDetector, frames_of


def measure(models: list[Path], frames: list[np.ndarray], warmup: int = 3) -> dict[str, Any]:
    from node.detect.preprocess import preprocess

    dets = [OnnxDetector(m, []) for m in models]
    times: list[list[float]] = [[] for _ in dets]
    for k, frame in enumerate(frames):
        for d, t in zip(dets, times, strict=True):
            x = preprocess(frame, d.input_hw).tensor
            t0 = time.perf_counter()
            d.raw(x)
            if k >= warmup:
                t.append((time.perf_counter() - t0) * 1000)
    base = float(np.median(times[0]))
    return {
        str(m): {"input": list(d.input_hw), "median_ms": round(float(np.median(t)), 2),
                 "p90_ms": round(float(np.percentile(t, 90)), 2),
                 "ratio_to_first": round(float(np.median(t)) / base, 3), "runs": len(t)}
        for m, d, t in zip(models, dets, times, strict=True)
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("models", type=Path, nargs="+")
    p.add_argument("--frames", type=Path, required=True, help="Video, folder of videos/images.")
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--n", type=int, default=60, help="Frames (rounds), after 3 warm-up ones.")
    args = p.parse_args(argv)
    frames = []
    for f in frames_of(args.frames, args.every):
        frames.append(f)
        if len(frames) >= args.n + 3:
            break
    print(json.dumps(measure(args.models, frames), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
