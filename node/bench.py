"""``citywatch bench``: model latency per provider, wrapper overhead, pipeline and analytic fps,
and the movement stage (MoveNet pose + per-track features + temporal classifier) per frame at 1, 3
and 6 people.

Everything here measures; nothing asserts. Latency is the model alone (``ModelSession.run`` on a
prepared tensor), so providers compare fairly; the analytic fps adds decoding, pre/post-processing,
tracking and the event lifecycle on real video frames, sequentially on one thread, as
``citywatch analyse`` runs them.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from node.inference.preprocess import prepare_image
from node.inference.providers import choose_providers
from node.inference.session import ModelSession, SessionOptions, warmup_feeds
from schemas.manifest import ModelManifest

MIN_RUNS = 5


@dataclass(frozen=True)
class LatencyRow:
    model: str
    provider: str
    input: str  # e.g. "1x3x416x416"
    file_mb: float
    runs: int
    median_ms: float
    p90_ms: float
    fps: float
    error: str | None = None


def bench_providers() -> list[str]:
    """Providers of the preference list that this onnxruntime build offers (CPU always)."""
    return choose_providers()


def _feeds(
    manifest: ModelManifest, frame: npt.NDArray[np.uint8] | None
) -> dict[str, npt.NDArray[Any]]:
    spec = manifest.inputs[0]
    if frame is not None and len(manifest.inputs) == 1 and spec.image_size() is not None:
        return {spec.name: prepare_image(frame, spec)[0]}
    return warmup_feeds(manifest.inputs)  # non-image models: zeros of the right shape


def time_calls(fn: Callable[[], object], seconds: float, max_runs: int = 10_000) -> list[float]:
    """Milliseconds of each call, for ``seconds`` of wall time, at least ``MIN_RUNS`` calls."""
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(out) < max_runs and (len(out) < MIN_RUNS or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def bench_model(
    path: Path,
    manifest: ModelManifest,
    provider: str,
    seconds: float,
    frame: npt.NDArray[np.uint8] | None,
    options: SessionOptions | None = None,
) -> LatencyRow:
    """Latency of ``manifest``'s model on ``provider`` alone, with ``options`` (threads,
    TensorRT/CUDA options: the config's) otherwise."""
    shape = "x".join(str(d) for d in manifest.inputs[0].shape)
    size_mb = round(path.stat().st_size / 1e6, 2)
    try:
        session = ModelSession(
            path, manifest, replace(options or SessionOptions(), providers=(provider,))
        )
        session.warmup(2)
        feeds = _feeds(manifest, frame)
        ms = time_calls(lambda: session.run(feeds), seconds)
    except Exception as err:  # one failing provider/model must not hide the others
        return LatencyRow(manifest.name, provider, shape, size_mb, 0, 0.0, 0.0, 0.0, str(err))
    med = float(np.median(ms))
    return LatencyRow(
        model=manifest.name,
        provider=provider,
        input=shape,
        file_mb=size_mb,
        runs=len(ms),
        median_ms=round(med, 2),
        p90_ms=round(float(np.percentile(ms, 90)), 2),
        fps=round(1000.0 / med, 1) if med > 0 else 0.0,
    )


def machine_info() -> dict[str, Any]:
    import onnxruntime as ort

    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers": bench_providers(),
    }


def analytic_fps(
    analyzer: Any, video: Path, seconds: float, max_frames: int | None = None
) -> dict[str, Any]:
    """Frames per second through decode + analytics + lifecycle (``citywatch analyse``'s loop),
    reading the video once from the start, for at most ``seconds``."""
    frames = 0
    start = time.perf_counter()
    for line in analyzer.run(video, 1, max_frames):
        if "event" not in line:
            frames += 1
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    return {
        "video": str(video),
        "frames": frames,
        "seconds": round(elapsed, 2),
        "fps": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
    }


def rows_as_dicts(rows: Sequence[LatencyRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


# --- movement stage ---------------------------------------------------------------------------

MOVEMENT_PEOPLE = (1, 3, 6)


def frame_with_people(image: npt.NDArray[np.uint8], people: int,
                      size: tuple[int, int] = (1280, 720)) -> npt.NDArray[np.uint8]:
    """A ``size`` (w, h) frame holding ``people`` people: the left and right halves of ``image``
    (e.g. ``zidane.jpg``: one person each) tiled in a grid of up to 3 columns, so a person keeps a
    plausible aspect."""
    import cv2

    fw, fh = size
    w = image.shape[1]
    halves = [image[:, : w // 2], image[:, w // 2 :]]
    cols = min(people, 3)
    rows = -(-people // cols)
    tw, th = fw // cols, fh // rows
    frame = np.zeros((fh, fw, 3), np.uint8)
    for k in range(people):
        r, c = divmod(k, cols)
        frame[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = cv2.resize(halves[k % 2], (tw, th))
    return frame


def synthetic_walker(rng: np.random.Generator, duration_s: float, rate_hz: float) -> Any:
    """A walking person's track (``node.movement.features.Series``): a box crossing the picture
    with swinging limbs and keypoint noise. The features and the classifier cost the same whatever
    the motion, so this stands in for real tracks in the latency figures."""
    from node.movement.features import Series
    from node.movement.pose import NUM_KEYPOINTS

    times = np.arange(0.0, duration_s, 1.0 / rate_hz, dtype=np.float32)
    h = float(rng.uniform(150, 300))
    x0, y0 = float(rng.uniform(0, 600)), float(rng.uniform(50, 300))
    cx = x0 + 0.7 * h * times
    boxes = np.stack([cx - 0.2 * h, np.full_like(times, y0), cx + 0.2 * h,
                      np.full_like(times, y0 + h)], 1).astype(np.float32)
    # keypoints on a fixed layout in the box (head to ankles), limbs swinging at 1 Hz
    layout_y = np.linspace(0.05, 0.95, NUM_KEYPOINTS, dtype=np.float32)
    layout_x = np.where(np.arange(NUM_KEYPOINTS) % 2 == 0, -0.1, 0.1).astype(np.float32)
    swing = 0.08 * np.sin(2 * np.pi * times)[:, None] * (layout_y[None, :] > 0.4)
    kps = np.zeros((len(times), NUM_KEYPOINTS, 3), np.float32)
    kps[:, :, 0] = cx[:, None] + h * (layout_x[None, :] + swing)
    kps[:, :, 1] = y0 + h * layout_y[None, :]
    kps[:, :, :2] += rng.normal(0, 0.01 * h, (len(times), NUM_KEYPOINTS, 2))
    kps[:, :, 2] = rng.uniform(0.4, 0.9, (len(times), NUM_KEYPOINTS))
    return Series(times, boxes, kps)


def movement_latency(
    estimator: Any,
    classifier: Any,
    image: npt.NDArray[np.uint8],
    runs: int,
    people: Sequence[int] = MOVEMENT_PEOPLE,
    min_keypoint_score: float = 0.3,
) -> dict[str, Any]:
    """Milliseconds per frame of the movement stage at each number of people, as the analytic
    spends them: one MoveNet run on a frame holding that many people (``frame_with_people``), then
    per track a resampled window, its features (with the nearest other track as neighbour) and
    one classifier batch. The person detector belongs to the objects stage and is not counted.
    Sizes alternate within each round so background load hits them alike; medians and p90 over
    ``runs`` rounds (at least ``MIN_RUNS``)."""
    from node.movement.features import resample, window_features

    m = classifier.manifest
    rng = np.random.default_rng(0)
    tracks = [synthetic_walker(rng, 4.0, m.rate_hz * 1.5) for _ in range(max(people))]
    frames = {n: frame_with_people(image, n) for n in people}
    times: dict[int, tuple[list[float], list[float]]] = {n: ([], []) for n in people}
    found: dict[int, int] = {}

    def classify(n: int) -> None:
        grids = [resample(tr, float(tr.times[-1]), m.rate_hz, m.steps) for tr in tracks[:n]]
        windows = [
            window_features(g, m.rate_hz, grids[(k + 1) % n] if n > 1 else None,
                            min_keypoint_score)
            for k, g in enumerate(grids)
        ]
        classifier.predict(windows)

    for _ in range(2):  # warm-up
        estimator.estimate(frames[people[0]])
        classify(people[0])
    for _ in range(max(runs, MIN_RUNS)):
        for n in people:
            t0 = time.perf_counter()
            found[n] = len(estimator.estimate(frames[n]))
            t1 = time.perf_counter()
            classify(n)
            t2 = time.perf_counter()
            times[n][0].append((t1 - t0) * 1000.0)
            times[n][1].append((t2 - t1) * 1000.0)

    def row(n: int) -> dict[str, Any]:
        pose, clf = times[n]
        total = [a + b for a, b in zip(pose, clf, strict=True)]
        return {
            "people": n,
            "poses_found": found[n],
            "pose_ms": round(float(np.median(pose)), 2),
            "features_classifier_ms": round(float(np.median(clf)), 2),
            "total_ms": round(float(np.median(total)), 2),
            "p90_total_ms": round(float(np.percentile(total, 90)), 2),
        }

    h, w = next(iter(frames.values())).shape[:2]
    return {
        "frame": f"{w}x{h}",
        "runs": max(runs, MIN_RUNS),
        "classifier": classifier.label,
        "rows": [row(n) for n in people],
    }
