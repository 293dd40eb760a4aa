"""Cost of the zone and line logic per frame: 10 zones, 5 lines, 50 tracked people, every rule on.

    .venv/bin/python benchmarks/zones.py [--frames 3000] [--rounds 5]

A 1920x1080 scene at 10 fps: 50 people (box heights 80-250 px) walk at 0.5-1.5 box heights per
second with 3% anchor jitter, turning at the borders; every 20 frames one of them is lost for a
second and comes back under a new id (the handover path), one track in five is still
unconfirmed. Ten zones (hexagons on a grid) each carry loitering (30 s), occupancy (more than 4
for 2 s) and direction rules; five lines cross the frame at different angles. Detections are made
before timing. Per round, ``ZoneEngine.update`` runs over all frames, and so do two baselines on
the same frames: ``ByteTracker.update`` (the step before it in the objects analytic) and
``SpatialFilter.zone_names`` (the zone tagging it extends). Rounds alternate the three so
background load hits all alike. Per frame, wall time and this thread's CPU time (the figure to
read on a loaded machine, where the wall time includes waiting for a core); medians, means and
95th percentiles, with the ratios of the medians.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

from node.detect.detections import Detections
from node.detect.zones import SpatialFilter
from node.track.bytetrack import ByteTracker
from node.zones import ZoneEngine, ZoneLayout
from schemas.config.zones import LineConfig, ZoneLogicConfig, ZoneRulesConfig

W, H, FPS = 1920, 1080, 10.0
BUDGET_MS = 0.5


def layout() -> ZoneLayout:
    zones = {}
    for k in range(10):
        cx, cy, r = 200 + (k % 5) * 380, 300 + (k // 5) * 480, 150
        zones[f"z{k}"] = [(cx + r * math.cos(a), cy + r * math.sin(a))
                          for a in np.linspace(0, 2 * math.pi, 6, endpoint=False)]  # fmt: skip
    lines = [
        LineConfig(name="l0", points=((0, 540), (1920, 540))),
        LineConfig(name="l1", points=((960, 0), (960, 1080))),
        LineConfig(name="l2", points=((0, 0), (1920, 1080))),
        LineConfig(name="l3", points=((300, 1080), (1500, 100)), in_side="right"),
        LineConfig(name="l4", points=((100, 250), (1800, 300))),
    ]
    rules = {name: ZoneRulesConfig(loitering_s=30, max_occupancy=4, for_s=2,
                                   direction=["up", "down", "left", "right", 45][k % 5])
             for k, name in enumerate(zones)}  # fmt: skip
    return ZoneLayout(lines=lines, zones=zones, rules=rules)


def scene(frames: int, people: int = 50, seed: int = 0) -> list[tuple[Detections, np.ndarray]]:
    rng = np.random.default_rng(seed)
    h = rng.uniform(80, 250, people)
    pos = np.stack([rng.uniform(0, W, people), rng.uniform(h, H)], axis=1)
    speed = rng.uniform(0.5, 1.5, people) * h
    ang = rng.uniform(0, 2 * math.pi, people)
    ids = np.arange(1, people + 1)
    next_id = people + 1
    hidden = np.zeros(people, dtype=np.int64)  # frames left unseen
    confirmed = rng.random(people) > 0.2
    out = []
    for f in range(frames):
        ang += rng.normal(0, 0.05, people)
        pos += np.stack([np.cos(ang), np.sin(ang)], axis=1) * (speed / FPS)[:, None]
        off = (pos[:, 0] < 0) | (pos[:, 0] > W) | (pos[:, 1] < h) | (pos[:, 1] > H)
        ang[off] += math.pi
        pos[:, 0] = pos[:, 0].clip(0, W)
        pos[:, 1] = np.clip(pos[:, 1], h, H)
        if f % 20 == 0:  # one person lost for a second, back under a new id
            k = int(rng.integers(people))
            hidden[k], ids[k], next_id = int(FPS), next_id, next_id + 1
        hidden = np.maximum(hidden - 1, 0)
        seen = hidden == 0
        anchor = pos[seen] + rng.normal(0, 0.03, (int(seen.sum()), 2)) * h[seen][:, None]
        hh = h[seen]
        boxes = np.stack([anchor[:, 0] - hh / 4, anchor[:, 1] - hh,
                          anchor[:, 0] + hh / 4, anchor[:, 1]], axis=1)  # fmt: skip
        n = len(boxes)
        dets = Detections.from_arrays(boxes, [0.9] * n, [0] * n, ["person"] * n, ids[seen])
        out.append((dets, confirmed[seen].copy()))
    return out


Times = list[tuple[float, float]]  # per frame: (wall s, this thread's CPU s)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t0[0], time.thread_time() - t0[1]


def time_engine(frames: list[tuple[Detections, np.ndarray]]) -> Times:
    engine = ZoneEngine(layout(), ZoneLogicConfig(), handover_after_s=1.0)
    times = []
    for i, (dets, conf) in enumerate(frames):
        t0 = _clock()
        engine.update(dets, conf, i / FPS)
        times.append(_since(t0))
    return times


def time_tracker(frames: list[tuple[Detections, np.ndarray]]) -> Times:
    tracker = ByteTracker()
    times = []
    for i, (dets, _) in enumerate(frames):
        untracked = Detections.from_arrays(dets.xyxy, dets.score, dets.class_id, dets.labels)
        t0 = _clock()
        tracker.update(untracked, i / FPS)
        times.append(_since(t0))
    return times


def time_zone_names(frames: list[tuple[Detections, np.ndarray]]) -> Times:
    spatial = SpatialFilter.from_camera([], dict(layout().zones))
    times = []
    for dets, _ in frames:
        t0 = _clock()
        spatial.zone_names(dets)
        times.append(_since(t0))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    frames = scene(args.frames)
    runs: dict[str, Times] = {"engine": [], "tracker": [], "zone_names": []}
    for _ in range(args.rounds):
        runs["engine"] += time_engine(frames)[50:]  # after the first tracks settled
        runs["tracker"] += time_tracker(frames)[50:]
        runs["zone_names"] += time_zone_names(frames)[50:]

    def stats(v: Times, col: int) -> dict[str, float]:
        ms = np.asarray([x[col] for x in v]) * 1000.0
        return {"median_ms": round(float(np.median(ms)), 4),
                "mean_ms": round(float(np.mean(ms)), 4),
                "p95_ms": round(float(np.percentile(ms, 95)), 4)}  # fmt: skip

    wall = {name: stats(v, 0) for name, v in runs.items()}
    cpu = {name: stats(v, 1) for name, v in runs.items()}
    med = {name: r["median_ms"] for name, r in cpu.items()}
    tracks = float(np.mean([len(d) for d, _ in frames]))
    print(json.dumps({
        "frames": args.frames, "rounds": args.rounds, "zones": 10, "lines": 5,
        "tracks_per_frame": round(tracks, 1), "load_avg": [round(x, 2) for x in os.getloadavg()],
        "cpu_per_frame": cpu, "wall_per_frame": wall,
        "engine / tracker (cpu medians)": round(med["engine"] / med["tracker"], 3),
        "engine / zone_names (cpu medians)": round(med["engine"] / med["zone_names"], 3),
        "engine cpu median / budget 0.5 ms": round(med["engine"] / BUDGET_MS, 3),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
