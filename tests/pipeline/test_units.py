"""Pure parts of the pipeline: rate limiter, motion gate, stats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from node.pipeline.motion import MotionGate, changed_fraction
from node.pipeline.ratelimit import RateLimiter
from node.pipeline.stats import CameraStats, LatencyStats, RateMeter
from node.thumbnail import grey_thumbnail
from schemas.config.camera import MotionConfig
from tests.sources.fakes import square_at


def runs(limiter: RateLimiter, times: list[float]) -> list[float]:
    return [t for t in times if limiter.acquire(t)]


@pytest.mark.parametrize(
    ("fps", "camera_fps", "seconds", "expected"),
    [(5.0, 25.0, 10.0, 50), (1.0, 25.0, 10.0, 10), (2.0, 10.0, 3.0, 6), (30.0, 10.0, 2.0, 20)],
)
def test_rate_limiter_hits_its_fps(
    fps: float, camera_fps: float, seconds: float, expected: int
) -> None:
    times = [i / camera_fps for i in range(int(seconds * camera_fps))]
    assert len(runs(RateLimiter(fps), times)) == expected


def test_rate_limiter_with_jittery_frames_keeps_the_average() -> None:
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(0.03, 0.05, 1000)).tolist()  # ~25 fps, jittered
    got = runs(RateLimiter(5.0), times)
    assert abs(len(got) - 5.0 * times[-1]) <= 1
    assert min(np.diff(got)) > 0.1  # never a burst


def test_rate_limiter_does_not_burst_after_a_pause() -> None:
    limiter = RateLimiter(5.0)
    assert runs(limiter, [0.0, 0.2, 0.4]) == [0.0, 0.2, 0.4]
    assert runs(limiter, [10.0, 10.01, 10.05, 10.2]) == [10.0, 10.2]


@pytest.mark.parametrize("fps", [0.0, -1.0, float("inf"), float("nan")])
def test_rate_limiter_rejects_bad_fps(fps: float) -> None:
    with pytest.raises(ValueError, match="fps"):
        RateLimiter(fps)


def test_changed_fraction_matches_a_reference_loop() -> None:
    rng = np.random.default_rng(0)
    bg = rng.uniform(0, 255, (9, 16)).astype(np.float32)
    thumb = rng.integers(0, 256, (9, 16), dtype=np.uint8)
    expected = sum(
        abs(float(thumb[y, x]) - float(bg[y, x])) >= 25 for y in range(9) for x in range(16)
    ) / (9 * 16)
    assert changed_fraction(bg, thumb, 25) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\(9, 16\)"):
        changed_fraction(bg, thumb[:, :8], 25)


def test_grey_thumbnail_downscales_keeping_aspect() -> None:
    assert grey_thumbnail(np.zeros((1080, 1920, 3), np.uint8)).shape == (90, 160)
    assert grey_thumbnail(np.zeros((60, 80, 3), np.uint8)).shape == (60, 80)  # never upscales


def test_motion_gate_decisions() -> None:
    gate = MotionGate(MotionConfig(keepalive_s=1.0))
    still = grey_thumbnail(square_at(40))
    moved = grey_thumbnail(square_at(80))
    assert gate.check(still, 0.0).reason == "first"
    assert gate.check(still, 0.1).run is False
    assert gate.check(still, 0.5).reason == "static"
    assert gate.check(moved, 0.6).reason == "motion"
    for _ in range(3):
        gate.observe(still)  # background settles without spending the keepalive
    assert gate.check(still, 1.5).reason == "static"
    assert gate.check(still, 2.0).reason == "keepalive"
    assert MotionGate(MotionConfig(enabled=False)).check(still, 0.0).reason == "disabled"


def test_motion_gate_never_keepalive_when_zero() -> None:
    gate = MotionGate(MotionConfig(keepalive_s=0))
    still = grey_thumbnail(square_at(40))
    gate.check(still, 0.0)
    assert not any(gate.check(still, t).run for t in (10.0, 100.0))


def test_rate_meter_and_latency() -> None:
    meter = RateMeter(window_s=5)
    for i in range(100):
        meter.mark(i * 0.04)
    assert meter.rate(3.96) == pytest.approx(25.0)
    assert meter.rate(20.0) == 0.0  # stalled camera reads zero
    lat = LatencyStats()
    samples = [float(x) for x in range(1, 101)]
    for s in samples:
        lat.add(s)
    snap = lat.snapshot()
    assert snap["count"] == 100
    assert snap["p50_ms"] == pytest.approx(np.percentile(samples, 50))
    assert snap["p95_ms"] == pytest.approx(np.percentile(samples, 95))


def test_camera_stats_snapshot_is_json() -> None:
    stats = CameraStats("cam1")
    stats.record_run("cars", 12.5)
    stats.record_error("faces")
    snap = stats.snapshot(0.0)
    json.dumps(snap)
    assert snap["analytics"]["cars"]["inference"]["p50_ms"] == 12.5
    assert snap["analytics"]["faces"]["errors"] == 1
