"""How often the node's run decision fires on synthetic walkers and runners, per playback rate
and path angle -- the check of the running rule (``node.movement.rules.running``), old and new.

Each sequence is seen by a random camera whose pan the node would take out (no following),
half of them with perspective. Like the analytic, the decision is made at each of the last
``vote_n`` analysed frames (window = 24 steps at 8 Hz ending there) and the track is "running"
when ``vote_k`` of them say so. The old rule is the one before issue 6's playback-rate work:
classifier >= 0.5 and max(body speed, limb speed) >= 1 body height per second (medians of
the last 3 steps).

    PYTHONPATH=. .venv/bin/python -m models.movement.run_check --n 60
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from models.movement.synth import FRAME_WIDTH, make_sample, random_camera
from node.movement.classifier import DEFAULT_SIDECAR, MovementClassifier
from node.movement.features import FEATURE_INDEX, resample, window_features
from node.movement.gait import RunParams, gait_evidence, running

RATE_HZ, STEPS = 8.0, 24


@dataclass(frozen=True)
class RunOutcome:
    new: bool  # the current rule
    old: bool  # classifier + 1 body height/s
    strides: tuple[float | None, ...]


def judge(label: str, playback: float, seed: int, clf: MovementClassifier,
          angles_deg: tuple[float, float] = (0.0, 90.0), params: RunParams | None = None,
          vote_k: int = 4, vote_n: int = 8) -> RunOutcome:
    """One synthetic ``label`` (walk or run) sequence at ``playback``, its path at a random
    angle within ``angles_deg`` to the image plane (0: across the picture, 90: straight
    towards or away from the camera): does the run vote hold?"""
    p = params or RunParams()
    rng = np.random.default_rng(seed)
    cam = random_camera(rng)
    cam = replace(cam, follow=0.0)  # the node compensates a panning camera
    angle = float(np.radians(rng.uniform(*angles_deg)))
    s = make_sample(label, rng, 3.0 + vote_n / RATE_HZ + 0.5, RATE_HZ, playback=playback,
                    camera=cam, path_angle=angle)
    ends = s.track.times[-vote_n:]
    grids = [resample(s.track, float(t), RATE_HZ, STEPS) for t in ends]
    nbs = [resample(s.neighbour, float(t), RATE_HZ, STEPS) if s.neighbour is not None else None
           for t in ends]
    windows = [window_features(g, RATE_HZ, nb) for g, nb in zip(grids, nbs, strict=True)]
    probs = clf.predict(windows)
    new = old = 0
    strides = []
    for g, w, pr in zip(grids, windows, probs, strict=True):
        v = np.hypot(w[-3:, FEATURE_INDEX["vx"]], w[-3:, FEATURE_INDEX["vy"]])
        moving = max(float(np.median(v)), float(np.median(w[-3:, FEATURE_INDEX["limb_speed"]])))
        gait = gait_evidence(g, RATE_HZ, FRAME_WIDTH, p)
        strides.append(gait.stride)
        new += running(gait, pr["run"], moving, p)
        old += pr["run"] >= p.min_score and moving >= p.min_speed
    return RunOutcome(new >= vote_k, old >= vote_k, tuple(strides))


def rate(label: str, playback: float, n: int, clf: MovementClassifier, seed: int = 9000,
         angles_deg: tuple[float, float] = (0.0, 90.0)) -> tuple[float, float]:
    """Fraction of ``n`` sequences judged running: (new rule, old rule)."""
    outs = [judge(label, playback, seed + i, clf, angles_deg) for i in range(n)]
    return (sum(o.new for o in outs) / n, sum(o.old for o in outs) / n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=9000)
    ap.add_argument("--sidecar", type=Path, default=DEFAULT_SIDECAR)
    args = ap.parse_args()
    clf = MovementClassifier.load(args.sidecar)
    print(f"{args.n} sequences per row, seeds {args.seed}..{args.seed + args.n - 1}")
    print("| truth | playback | path to image plane | run (new rule) | run (old rule) |")
    print("|---|---|---|---|---|")
    for label in ("walk", "run"):
        for pb in (0.5, 1.0, 2.0):
            for band in ((0.0, 60.0), (60.0, 90.0)):
                new, old = rate(label, pb, args.n, clf, args.seed, band)
                print(f"| {label} | {pb}x | {band[0]:.0f}-{band[1]:.0f} deg | {new:.2f} | "
                      f"{old:.2f} |", flush=True)


if __name__ == "__main__":
    main()
