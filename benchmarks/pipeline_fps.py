"""Decode-only fps vs. pipeline fps (no-op analytic, realtime=false, motion gate off).

    CITYWATCH_TEST_DATA=../shared python benchmarks/pipeline_fps.py [--seconds 10] [--rounds 2]

Prints one JSON object; ``ratio`` = pipeline fps / decode-only fps (acceptance: >= 0.9).
The implementation lives in ``node.pipeline.bench`` so ``citywatch bench`` can import it from an
installed package; it is re-exported here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from node.pipeline.bench import run_pipeline_benchmark

__all__ = ["run_pipeline_benchmark"]


def default_video() -> Path:
    root = os.environ.get("CITYWATCH_TEST_DATA", "../shared")
    return Path(root) / "datasets" / "videos" / "pedestrians.mp4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=None, help="default: pedestrians.mp4")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    args = parser.parse_args()
    video = args.video or default_video()
    if not video.is_file():
        print(f"video not found: {video} (set CITYWATCH_TEST_DATA)", file=sys.stderr)
        return 2
    result = run_pipeline_benchmark(video, args.seconds, args.rounds)
    print(json.dumps(result, indent=2))
    if not result["is_1080p"]:
        print(f"note: {video} is not 1080p: {result['video']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
