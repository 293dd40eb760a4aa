"""Latency of the movement stage per frame: MoveNet pose + per-track features + classifier, at
1, 3 and 6 people, CPU.

    CITYWATCH_TEST_DATA=../shared .venv/bin/python benchmarks/movement.py [--threads 2]

MoveNet is single-shot (one run per frame whatever the number of people) but is timed on a
real frame holding that many people (halves of ``zidane.jpg`` tiled, one person each);
features and the classifier run per track, on synthetic tracks. The person detector belongs to
the objects stage and is not counted. Medians over ``--runs`` alternating rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from models.movement.synth import make_sample
from node.movement.analytic import PoseEstimator
from node.movement.classifier import DEFAULT_SIDECAR, MovementClassifier
from node.movement.features import resample, window_features


def frame_with_people(image: np.ndarray, people: int) -> np.ndarray:
    """A 1280x720 frame with ``people`` people: one-person halves of zidane.jpg tiled in a grid
    of up to 3 columns (so a person keeps a plausible aspect)."""
    w = image.shape[1]
    halves = [image[:, : w // 2], image[:, w // 2 :]]
    cols = min(people, 3)
    rows = -(-people // cols)
    tw, th = 1280 // cols, 720 // rows
    frame = np.zeros((720, 1280, 3), np.uint8)
    for k in range(people):
        r, c = divmod(k, cols)
        frame[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = cv2.resize(halves[k % 2], (tw, th))
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CITYWATCH_TEST_DATA", "")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--long-side", type=int, default=256)
    args = ap.parse_args()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    pose_sess = ort.InferenceSession(
        str(args.data / "models/movenet_multipose_lightning.onnx"), opts,
        providers=["CPUExecutionProvider"])

    class _Run:  # the node's sessions take feeds only; bare ORT takes (outputs, feeds)
        def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            return list(pose_sess.run(None, feeds))

    runner = _Run()
    estimator = PoseEstimator(lambda: runner, pose_sess.get_inputs()[0].name, args.long_side)
    clf = MovementClassifier.load(DEFAULT_SIDECAR, threads=args.threads)
    m = clf.manifest
    image = cv2.imread(str(args.data / "datasets/images/zidane.jpg"))
    rng = np.random.default_rng(0)
    tracks = [make_sample("walk", rng, 4.0, m.rate_hz).track for _ in range(6)]
    sizes = (1, 3, 6)
    frames = {n: frame_with_people(image, n) for n in sizes}
    times: dict[int, dict[str, list[float]]] = {n: {"pose": [], "classify": []} for n in sizes}
    found: dict[int, int] = {}
    for _ in range(3):  # warm-up
        estimator.estimate(frames[1])
        clf.predict([np.zeros((m.steps, len(m.features)), np.float32)])
    for _ in range(args.runs):
        for n in sizes:
            t0 = time.perf_counter()
            poses = estimator.estimate(frames[n])
            t1 = time.perf_counter()
            windows = []
            for tr in tracks[:n]:
                grid = resample(tr, float(tr.times[-1]), m.rate_hz, m.steps)
                windows.append(window_features(grid, m.rate_hz))
            clf.predict(windows)
            t2 = time.perf_counter()
            times[n]["pose"].append((t1 - t0) * 1000)
            times[n]["classify"].append((t2 - t1) * 1000)
            found[n] = len(poses)
    report = {
        str(n): {
            "poses_found": found[n],
            "pose_ms": round(statistics.median(times[n]["pose"]), 2),
            "features_classifier_ms": round(statistics.median(times[n]["classify"]), 2),
            "total_ms": round(statistics.median(
                [a + b for a, b in zip(times[n]["pose"], times[n]["classify"], strict=True)]), 2),
        }
        for n in sizes
    }
    print(json.dumps({"threads": args.threads, "runs": args.runs,
                      "movenet_long_side": args.long_side, "people": report}, indent=2))


if __name__ == "__main__":
    main()
