"""``citywatch bench``: model latency per provider, wrapper overhead, pipeline and analytic fps.

Everything here measures; nothing asserts. Latency is the model alone (``ModelSession.run`` on a
prepared tensor), so providers compare fairly; the analytic fps adds decoding, pre/post-processing,
tracking and the event lifecycle on real video frames, sequentially on one thread, as
``citywatch analyze`` runs them.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from node.inference.preprocess import prepare_image
from node.inference.providers import PREFERENCE, available_providers
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
    have = available_providers()
    return [p for p in PREFERENCE if p in have] or ["CPUExecutionProvider"]


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
) -> LatencyRow:
    shape = "x".join(str(d) for d in manifest.inputs[0].shape)
    size_mb = round(path.stat().st_size / 1e6, 2)
    try:
        session = ModelSession(path, manifest, SessionOptions(providers=(provider,)))
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
    """Frames per second through decode + analytics + lifecycle (``citywatch analyze``'s loop),
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
