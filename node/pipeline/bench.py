"""Pipeline overhead benchmark: decode-only fps vs. full pipeline fps with the no-op analytic.

Both are measured in the same process, alternating rounds (decode, pipeline, decode, ...) so a
background load on the machine hits both alike. ``citywatch bench`` and
``benchmarks/pipeline_fps.py`` call ``run_pipeline_benchmark``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from pathlib import Path
from typing import Any

import cv2

from node.analytics.noop import NoopFactory
from node.frame import Frame
from node.pipeline.camera import CameraPipeline
from node.sources.capture import LatestFrameCapture
from schemas.config.analytics import NoopAnalyticConfig
from schemas.config.camera import CameraConfig, MotionConfig
from schemas.events import Event


class _NullSink:
    async def emit(self, event: Event, snapshot_frame: Frame | None) -> None:
        return None


def video_info(path: str) -> dict[str, Any]:
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise ValueError(f"{path}: cannot be opened as a video")
        return {
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fps": float(cap.get(cv2.CAP_PROP_FPS)),
            "frames": int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        }
    finally:
        cap.release()


def decode_only_fps(path: str, seconds: float) -> tuple[int, float]:
    """Plain ``cv2.VideoCapture.read`` loop, reopening at the end like a looping source."""
    frames = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        try:
            while time.perf_counter() < deadline:
                ok, image = cap.read()
                if not ok or image is None:
                    break
                frames += 1
        finally:
            cap.release()
    return frames, time.perf_counter() - t0


async def _pipeline_fps_async(path: str, seconds: float) -> tuple[int, float, dict[str, Any]]:
    camera = CameraConfig(
        name="bench",
        source=path,
        loop=True,
        realtime=False,
        motion=MotionConfig(enabled=False),
    )
    # fps far above decode speed: the rate limit must not be what we measure.
    factory = NoopFactory(NoopAnalyticConfig(enabled=True, fps=10_000.0))
    capture = LatestFrameCapture(camera)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as executor:
        pipeline = CameraPipeline(
            camera, capture, [factory], node_id="bench", sink=_NullSink(), executor=executor
        )
        task = pipeline.start()
        # Time from the first analysed frame: opening the file is not pipeline throughput.
        # Polling is fine here: a benchmark harness, 1 ms resolution, not product code.
        while pipeline.stats.frames_analysed == 0 and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        n0, t0 = pipeline.stats.frames_analysed, time.perf_counter()
        await asyncio.sleep(seconds)
        n1, t1 = pipeline.stats.frames_analysed, time.perf_counter()
        await pipeline.stop()
        return n1 - n0, t1 - t0, pipeline.snapshot()


def pipeline_fps(path: str, seconds: float) -> tuple[int, float, dict[str, Any]]:
    return asyncio.run(_pipeline_fps_async(path, seconds))


def run_pipeline_benchmark(
    path: str | Path, seconds: float = 10.0, rounds: int = 2
) -> dict[str, Any]:
    """Measure decode-only and pipeline fps on ``path``; ``seconds`` per measurement, split
    over ``rounds`` alternating rounds. Returns a JSON-serialisable dict with ``ratio``."""
    p = str(path)
    info = video_info(p)
    per_round = max(0.5, seconds / rounds)
    decode_frames = decode_time = pipe_frames = pipe_time = decode_cpu = pipe_cpu = 0.0
    pipe_frames_all = 0
    detail: list[dict[str, float]] = []
    last_stats: dict[str, Any] = {}
    for _ in range(rounds):
        # CPU seconds of the whole process per frame: unlike fps, barely moved by other load
        # on a shared machine, so it shows the pipeline's own overhead.
        c0 = time.process_time()
        df, dt = decode_only_fps(p, per_round)
        c1 = time.process_time()
        pf, pt, last_stats = pipeline_fps(p, per_round)
        c2 = time.process_time()
        decode_cpu += c1 - c0
        pipe_cpu += c2 - c1
        pipe_frames_all += int(last_stats.get("frames_analysed", 0))
        decode_frames += df
        decode_time += dt
        pipe_frames += pf
        pipe_time += pt
        detail.append({"decode_fps": round(df / dt, 2), "pipeline_fps": round(pf / pt, 2)})
    decode = decode_frames / decode_time
    pipe = pipe_frames / pipe_time
    return {
        "path": p,
        "video": info,
        "is_1080p": info["height"] == 1080,
        "seconds_per_measurement": round(per_round * rounds, 2),
        "rounds": detail,
        "decode_fps": round(decode, 2),
        "pipeline_fps": round(pipe, 2),
        "ratio": round(pipe / decode, 3),
        "decode_cpu_ms_per_frame": round(1000 * decode_cpu / max(decode_frames, 1), 3),
        "pipeline_cpu_ms_per_frame": round(1000 * pipe_cpu / max(pipe_frames_all, 1), 3),
        "pipeline_dropped": last_stats.get("frames_dropped", 0),
        "pipeline_frames_read": last_stats.get("frames_read", 0),
        "pipeline_frames_analysed": last_stats.get("frames_analysed", 0),
    }
