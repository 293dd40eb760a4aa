"""Pipeline + real capture on real files: every frame analysed, statuses published."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from node.analytics.noop import NoopFactory
from node.pipeline.bench import run_pipeline_benchmark
from node.pipeline.camera import CameraPipeline
from node.sources.capture import LatestFrameCapture
from schemas.config.analytics import NoopAnalyticConfig
from schemas.config.camera import CameraConfig, MotionConfig, ReconnectConfig
from tests.conftest import SharedData
from tests.pipeline.fakes import FakeFactory, RecordingSink, StatusLog, until

SMALL_VIDEO = "datasets/videos/example_01.mp4"  # 41 frames
FAST = ReconnectConfig(initial_s=0.05, max_s=0.2, jitter=0.2)


@pytest.fixture
async def executor() -> AsyncIterator[ThreadPoolExecutor]:
    ex = ThreadPoolExecutor(max_workers=2)
    yield ex
    ex.shutdown(wait=True)


def pipeline_for(
    cfg: CameraConfig, factory: FakeFactory, executor: ThreadPoolExecutor
) -> tuple[CameraPipeline, LatestFrameCapture, StatusLog]:
    capture = LatestFrameCapture(cfg)
    status = StatusLog()
    p = CameraPipeline(
        cfg,
        capture,
        [factory],
        node_id="n1",
        sink=RecordingSink(),
        executor=executor,
        on_status=status,
        idle_timeout_s=0.1,
    )
    return p, capture, status


async def test_file_without_loop_is_analysed_frame_by_frame_then_ends(
    shared_data: SharedData, executor: ThreadPoolExecutor
) -> None:
    cfg = CameraConfig(
        name="cam1",
        source=str(shared_data.path(SMALL_VIDEO)),
        realtime=False,
        motion=MotionConfig(enabled=False),
    )
    # Batch mode stamps frames with the time they were decoded, which can be well under a
    # millisecond apart: the rate limit must be far above that to see every frame.
    factory = FakeFactory("count", fps=1e6)
    p, _, status = pipeline_for(cfg, factory, executor)
    await p.run()  # returns by itself at the end of the file
    await p.stop()
    assert factory.created["cam1"].calls == list(range(41))
    snap = p.snapshot()
    assert snap["frames_read"] == 41 and snap["frames_analysed"] == 41
    assert snap["frames_dropped"] == 0
    assert status.states[:2] == ["online", "ended"]


async def test_deleted_file_publishes_offline_and_comes_back(
    shared_data: SharedData, tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    original = shared_data.path(SMALL_VIDEO)
    video = tmp_path / "cam.mp4"
    shutil.copy(original, video)
    cfg = CameraConfig(
        name="cam1",
        source=str(video),
        loop=True,
        realtime=False,
        reconnect=FAST,
        motion=MotionConfig(enabled=False),
    )
    factory = FakeFactory("count")
    p, _, status = pipeline_for(cfg, factory, executor)
    task = p.start()
    await until(lambda: p.stats.frames_analysed > 5)
    video.unlink()
    await until(lambda: "offline" in status.states)
    assert not task.done()  # the camera task survives the loss
    shutil.copy(original, video)
    await until(lambda: status.states[-1] == "online" and len(status.states) >= 3)
    analysed = p.stats.frames_analysed
    await until(lambda: p.stats.frames_analysed > analysed)
    await p.stop()
    assert status.states[:3] == ["online", "offline", "online"]
    assert status.items[1]["reason"] == f"{video}: file was removed" or "not found" in str(
        status.items[1]["reason"]
    )
    assert status.states[-1] == "stopped"
    assert p.snapshot()["reconnects"] == 1
    assert factory.created["cam1"].resets >= 1  # trackers reset after the reconnect


async def test_corrupt_file_status_names_the_file(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 5000)
    cfg = CameraConfig(name="cam1", source=str(bad), reconnect=FAST)
    p, _, status = pipeline_for(cfg, FakeFactory("count"), executor)
    p.start()
    await until(lambda: "error" in status.states)
    await p.stop()
    err = status.items[0]
    assert err["state"] == "error" and str(bad) in err["reason"]
    assert "not a decodable video" in err["reason"]


@pytest.mark.slow
def test_benchmark_function_reports_both_rates(shared_data: SharedData) -> None:
    # Figures are measured by benchmarks/pipeline_fps.py; here only the contract is checked,
    # on the small clip with short rounds (wall-clock ratios are not asserted in CI).
    result = run_pipeline_benchmark(shared_data.path(SMALL_VIDEO), seconds=1.0, rounds=1)
    assert result["decode_fps"] > 0 and result["pipeline_fps"] > 0
    assert result["ratio"] == pytest.approx(result["pipeline_fps"] / result["decode_fps"], 0.01)
    assert result["pipeline_dropped"] == 0
    assert result["video"]["width"] == 690


def test_noop_factory_is_what_the_benchmark_runs() -> None:
    factory = NoopFactory(NoopAnalyticConfig(enabled=True))
    assert factory.create("bench").name == "noop"
