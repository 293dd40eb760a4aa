"""Latency of the movement stage per frame: MoveNet pose + per-track features + classifier, at
1, 3 and 6 people, CPU.

    CITYWATCH_TEST_DATA=../shared .venv/bin/python benchmarks/movement.py [--threads 2]

The measurement is ``node.bench.movement_latency`` (what ``citywatch bench`` prints), here on
bare ONNX Runtime sessions with ``--threads`` intra-op threads instead of the node's model loader.
MoveNet is single-shot (one run per frame whatever the number of people) but is timed on a
real frame holding that many people (halves of ``zidane.jpg`` tiled, one person each);
features and the classifier run per track, on synthetic walking tracks. The person detector
belongs to the objects stage and is not counted. Medians over ``--runs`` alternating rounds.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

from node.bench import movement_latency
from node.inference.session import SessionOptions, open_session
from node.movement.classifier import DEFAULT_SIDECAR, MovementClassifier
from node.movement.pose_estimator import PoseEstimator


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("CITYWATCH_TEST_DATA", "")))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--long-side", type=int, default=256)
    args = ap.parse_args()
    opts = SessionOptions(intra_op_threads=args.threads, providers=("cpu",))
    pose_sess = open_session(args.data / "models/movenet_multipose_lightning.onnx", opts)

    class _Run:  # the node's sessions take feeds only; bare ORT takes (outputs, feeds)
        def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            return list(pose_sess.run(None, feeds))

    runner = _Run()
    estimator = PoseEstimator(lambda: runner, pose_sess.get_inputs()[0].name, args.long_side)
    clf = MovementClassifier.load(DEFAULT_SIDECAR, opts)
    image = cv2.imread(str(args.data / "datasets/images/zidane.jpg"))
    r = movement_latency(estimator, clf, image, args.runs)
    report = {str(x["people"]): {k: v for k, v in x.items() if k != "people"} for x in r["rows"]}
    print(json.dumps({"threads": args.threads, "runs": r["runs"], "classifier": r["classifier"],
                      "movenet_long_side": args.long_side, "people": report}, indent=2))


if __name__ == "__main__":
    main()
