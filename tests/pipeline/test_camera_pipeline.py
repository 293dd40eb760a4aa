"""CameraPipeline: events reach the sink, rate limits, motion gate, concurrency, toggles, gate."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from node.analytics.base import Analytic, AnalyticFactory
from node.clock import ManualClock
from node.frame import Frame
from node.pipeline.camera import CameraPipeline
from node.sources.capture import SourceStatus
from schemas.config.camera import CameraConfig, MotionConfig
from tests.pipeline.fakes import (
    FakeFactory,
    ManualFeed,
    RecordingSink,
    StatusLog,
    grey,
    no_observations,
    obs,
    until,
)
from tests.sources.fakes import square_at

T0 = 100.0  # monotonic time of the first frame


@pytest.fixture
async def executor() -> AsyncIterator[ThreadPoolExecutor]:
    ex = ThreadPoolExecutor(max_workers=4)
    yield ex
    ex.shutdown(wait=True)


def camera(**kw: Any) -> CameraConfig:
    kw.setdefault("motion", MotionConfig(enabled=False))
    return CameraConfig(name="cam1", source="scripted", **kw)


def make(
    feed: ManualFeed,
    factories: Sequence[AnalyticFactory],
    executor: ThreadPoolExecutor,
    **kw: Any,
) -> tuple[CameraPipeline, RecordingSink, StatusLog]:
    sink, status = RecordingSink(), StatusLog()
    cfg = kw.pop("config", None) or camera()
    clock = kw.pop("clock", None) or ManualClock()
    p = CameraPipeline(
        cfg,
        feed,
        factories,
        node_id="n1",
        sink=sink,
        executor=executor,
        on_status=status,
        clock=clock,
        idle_timeout_s=0.05,
        **kw,
    )
    return p, sink, status


async def test_observations_become_new_update_end_events(executor: ThreadPoolExecutor) -> None:
    def script(frame: Frame) -> list:  # type: ignore[type-arg]
        return [obs("car-1", score=0.5 + frame.index / 100)] if frame.index < 10 else []

    factory = FakeFactory("cars", script, update_interval_s=0.35, end_after_s=0.3)
    feed = ManualFeed()
    p, sink, _ = make(feed, [factory], executor)
    task = p.start()
    for i in range(16):
        feed.push(grey(i), T0 + 0.1 * i)
    await until(lambda: p.stats.frames_analysed == 16 and not p._inflight)
    await p.stop()
    await task
    kinds = sink.lifecycles()
    # new at t=0, updates every >=0.35 s while seen (t=0.4, 0.8), end once unseen for 0.3 s.
    assert kinds == ["new", "update", "update", "end"]
    new, snap = sink.events[0]
    assert new.camera == "cam1" and new.node_id == "n1" and new.model == "cars@1"
    assert snap is not None and snap.index == 0
    end, best = sink.events[-1]
    assert end.track_id == new.track_id and end.ended_at is not None
    assert best is not None and best.index == 9  # highest score
    assert p.stats.events == 4
    assert factory.created["cam1"].calls == list(range(16))


async def test_rate_limit_runs_analytic_at_its_fps(executor: ThreadPoolExecutor) -> None:
    slow, fast = FakeFactory("slow", fps=2.0), FakeFactory("fast", fps=1000.0)
    feed = ManualFeed()
    p, _, _ = make(feed, [slow, fast], executor)
    p.start()
    for i in range(30):  # 3 s at 10 fps
        feed.push(grey(i), T0 + 0.1 * i)
    await until(lambda: p.stats.frames_taken == 30 and not p._inflight)
    await p.stop()
    assert slow.created["cam1"].calls == [0, 5, 10, 15, 20, 25]
    assert len(fast.created["cam1"].calls) == 30


async def test_motion_gate_skips_a_static_scene(executor: ThreadPoolExecutor) -> None:
    factory = FakeFactory("cars")
    feed = ManualFeed(motion=True)
    cfg = camera(motion=MotionConfig(enabled=True, keepalive_s=0.5))
    p, _, _ = make(feed, [factory], executor, config=cfg)
    p.start()
    for i in range(20):  # 2 s of the same picture
        feed.push(square_at(40), T0 + 0.1 * i)
    await until(lambda: p.stats.frames_taken == 20 and not p._inflight)
    # First frame (no background yet), then one keepalive every 0.5 s.
    assert factory.created["cam1"].calls == [0, 5, 10, 15]
    assert p.stats.skipped_motion == 16
    for i in range(20, 30):  # the square moves 8 px per frame
        feed.push(square_at(40 + 8 * (i - 19)), T0 + 0.1 * i)
    await until(lambda: p.stats.frames_taken == 30 and not p._inflight)
    await p.stop()
    assert factory.created["cam1"].calls[4:] == list(range(20, 30))


async def test_analytics_run_concurrently_but_never_twice_at_once(
    executor: ThreadPoolExecutor,
) -> None:
    # Both analytics must be inside analyze at the same time for the barrier to open:
    # a pipeline that ran them one after the other would break it (errors counted).
    barrier = threading.Barrier(2, timeout=5)
    a = FakeFactory("a", hook=barrier.wait)
    b = FakeFactory("b", hook=barrier.wait)
    feed = ManualFeed()
    p, _, _ = make(feed, [a, b], executor)
    p.start()
    for i in range(5):
        feed.push(grey(i), T0 + 0.1 * i)
    await until(lambda: p.stats.frames_taken == 5 and not p._inflight)
    await p.stop()
    assert p.stats.analytic_errors == {}
    for f in (a, b):
        assert f.created["cam1"].calls == [0, 1, 2, 3, 4]
        assert f.created["cam1"].max_active == 1


async def test_live_feed_gives_a_busy_analytic_only_the_latest_frame(
    executor: ThreadPoolExecutor,
) -> None:
    release = threading.Event()
    slow = FakeFactory("slow", hook=lambda: release.wait(5))
    feed = ManualFeed(lossless=False)
    p, _, _ = make(feed, [slow], executor)
    p.start()
    feed.push(grey(0), T0)
    await until(lambda: slow.created["cam1"].active == 1)
    for i in range(1, 6):
        feed.push(grey(i), T0 + 0.1 * i)
    await asyncio.sleep(0.05)  # the pipeline must not take frames it cannot analyse
    assert p.stats.frames_taken == 1
    release.set()
    await until(lambda: p.stats.frames_taken == 6 and not p._inflight)
    await p.stop()
    assert slow.created["cam1"].max_active == 1


async def test_disabling_an_analytic_ends_its_events(executor: ThreadPoolExecutor) -> None:
    cars = FakeFactory("cars", lambda f: [obs("car-1")])
    other = FakeFactory("other")
    feed = ManualFeed()
    p, sink, _ = make(feed, [cars, other], executor)
    p.start()
    feed.push(grey(0), T0)
    await until(lambda: sink.lifecycles() == ["new"] and not p._inflight)
    p.set_enabled("cars", False)
    await p.settle()
    assert sink.lifecycles() == ["new", "end"]
    assert p.analytics == {"cars": False, "other": True}
    feed.push(grey(1), T0 + 0.1)
    await until(lambda: p.stats.frames_taken == 2 and not p._inflight)
    assert cars.created["cam1"].calls == [0]
    assert other.created["cam1"].calls == [0, 1]
    with pytest.raises(KeyError, match="faces"):
        p.set_enabled("faces", True)
    p.set_enabled("cars", True)
    feed.push(grey(2), T0 + 0.2)
    await until(lambda: cars.created["cam1"].calls == [0, 2])
    await p.stop()
    assert cars.created["cam1"].resets == 1  # re-enabled: fresh tracker state


async def test_camera_toggle_stops_capture_and_ends_events(executor: ThreadPoolExecutor) -> None:
    cars = FakeFactory("cars", lambda f: [obs("car-1")])
    feed = ManualFeed()
    p, sink, _ = make(feed, [cars], executor)
    p.start()
    feed.push(grey(0), T0)
    await until(lambda: sink.lifecycles() == ["new"])
    p.set_camera_enabled(False)
    await p.settle()
    assert feed.stops == ["disabled by command"]
    assert sink.lifecycles() == ["new", "end"]
    assert not p.camera_enabled
    p.set_camera_enabled(True)
    await p.settle()
    assert feed.starts == 2
    feed.push(grey(1), T0 + 0.1)
    await until(lambda: cars.created["cam1"].calls == [0, 1])
    await p.stop()
    assert sink.lifecycles() == ["new", "end", "new", "end"]


async def test_gated_analytic_runs_only_while_the_gate_is_open(
    executor: ThreadPoolExecutor,
) -> None:
    class Gate:
        open = False

        def is_open(self, camera: str) -> bool:
            return self.open

    gate = Gate()
    gated = FakeFactory("weapons", gated=True)
    feed = ManualFeed()
    p, _, _ = make(feed, [gated], executor, gate=gate)
    p.start()
    feed.push(grey(0), T0)
    await until(lambda: p.stats.frames_taken == 1)
    gate.open = True
    feed.push(grey(1), T0 + 0.1)
    await until(lambda: p.stats.frames_taken == 2 and not p._inflight)
    await p.stop()
    assert gated.created["cam1"].calls == [1]


async def test_failing_analytic_is_counted_and_the_camera_goes_on(
    executor: ThreadPoolExecutor,
) -> None:
    cars = FakeFactory("cars")
    feed = ManualFeed()
    p, _, _ = make(feed, [cars], executor)
    cars_analytic = cars.created["cam1"]
    cars_analytic.fail_on = {1, 2}
    p.start()
    for i in range(4):
        feed.push(grey(i), T0 + 0.1 * i)
    await until(lambda: p.stats.frames_taken == 4 and not p._inflight)
    snap = p.snapshot()
    await p.stop()
    assert cars_analytic.calls == [0, 1, 2, 3]
    assert snap["analytics"]["cars"]["errors"] == 2
    assert snap["analytics"]["cars"]["runs"] == 2
    json.dumps(snap)  # goes into the stats message as is


async def test_sink_failure_does_not_stop_the_camera(executor: ThreadPoolExecutor) -> None:
    cars = FakeFactory("cars", lambda f: [obs(f"car-{f.index}")])
    feed = ManualFeed()
    p, sink, _ = make(feed, [cars], executor)
    sink.fail = True
    p.start()
    feed.push(grey(0), T0)
    await until(lambda: p.stats.frames_taken == 1 and not p._inflight)
    sink.fail = False
    feed.push(grey(1), T0 + 0.1)
    await until(lambda: p.stats.frames_taken == 2 and not p._inflight)
    await p.stop()
    assert [e.lifecycle.value for e, _ in sink.events][:1] == ["new"]
    assert p.stats.events >= 1


async def test_new_generation_resets_analytics(executor: ThreadPoolExecutor) -> None:
    cars = FakeFactory("cars")
    feed = ManualFeed()
    p, _, _ = make(feed, [cars], executor)
    p.start()
    feed.push(grey(0), T0, generation=1)
    feed.push(grey(1), T0 + 0.1, generation=1)
    feed.push(grey(2), T0 + 0.2, generation=2)  # reconnected or looped
    await until(lambda: p.stats.frames_taken == 3 and not p._inflight)
    await p.stop()
    assert cars.created["cam1"].resets == 1


async def test_cameras_restriction_and_status_forwarding(executor: ThreadPoolExecutor) -> None:
    here, elsewhere = FakeFactory("here"), FakeFactory("elsewhere", cameras=["cam9"])
    feed = ManualFeed()
    p, _, status = make(feed, [here, elsewhere], executor)
    assert p.analytics == {"here": True}
    p.start()
    await asyncio.sleep(0)
    feed.status(SourceStatus("cam1", "offline", "cam1.mp4: file not found", "cam1.mp4", 1.0, 0))
    await until(lambda: status.states == ["offline"])
    await p.stop()
    assert status.items[0]["reason"] == "cam1.mp4: file not found"
    assert p.stats.state == "offline"


async def test_ended_source_ends_events_and_the_run(executor: ThreadPoolExecutor) -> None:
    cars = FakeFactory("cars", lambda f: [obs("car-1")], end_after_s=60)
    feed = ManualFeed()
    p, sink, _ = make(feed, [cars], executor)
    task = p.start()
    await until(lambda: feed.starts == 1)  # the pipeline starts the capture first
    feed.push(grey(0), T0)
    feed.end()
    await asyncio.wait_for(task, 5)
    assert sink.lifecycles() == ["new", "end"]
    await p.stop()


async def test_cancelling_the_task_ends_events_and_stops_capture(
    executor: ThreadPoolExecutor,
) -> None:
    cars = FakeFactory("cars", lambda f: [obs("car-1")], end_after_s=60)
    feed = ManualFeed()
    p, sink, _ = make(feed, [cars], executor)
    task = p.start()
    feed.push(grey(0), T0)
    await until(lambda: sink.lifecycles() == ["new"])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sink.lifecycles() == ["new", "end"]
    assert feed.stops == [None]


class _FinishingFactory(FakeFactory):
    """An analytic whose conclusion needs the end of the source (movement's `finish` hook)."""

    def create(self, camera: str) -> Analytic:
        a = super().create(camera)
        a.finish = lambda t: [obs("fallen-1")]  # type: ignore[attr-defined]
        return a


async def test_source_end_asks_analytics_to_finish(executor: ThreadPoolExecutor) -> None:
    falls = _FinishingFactory("falls", no_observations, end_after_s=60)
    feed = ManualFeed()
    p, sink, _ = make(feed, [falls], executor)
    task = p.start()
    await until(lambda: feed.starts == 1)
    feed.push(grey(0), T0)
    feed.end()
    await asyncio.wait_for(task, 5)
    assert sink.lifecycles() == ["new", "end"]  # concluded at the end, then closed
    assert sink.events[0][0].type == "object"
    await p.stop()
