"""LatestFrameCapture: latest-frame mailbox, pacing, loop/end, backoff, status, real failures."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from node.clock import ManualClock
from node.sources.base import SourceCorrupt, SourceUnavailable
from node.sources.capture import Backoff, CapturedFrame, LatestFrameCapture, SourceStatus
from schemas.config.camera import CameraConfig, MotionConfig, ReconnectConfig
from tests.conftest import SharedData, free_port
from tests.sources.fakes import (
    RecordingWait,
    ScriptedOpener,
    ScriptedSource,
    solid,
    wait_until,
)

SMALL_VIDEO = "datasets/videos/example_01.mp4"  # 41 frames, 10 fps
FAST = ReconnectConfig(initial_s=0.05, max_s=0.2, jitter=0.2)


def cam(source: str = "scripted", **kw: object) -> CameraConfig:
    kw.setdefault("motion", MotionConfig(enabled=False))
    return CameraConfig(name="cam1", source=source, **kw)


class Statuses:
    """Collects status changes from the capture thread."""

    def __init__(self) -> None:
        self.items: list[SourceStatus] = []
        self._lock = threading.Lock()

    def __call__(self, status: SourceStatus) -> None:
        with self._lock:
            self.items.append(status)

    @property
    def states(self) -> list[str]:
        with self._lock:
            return [s.state for s in self.items]


def drain(capture: LatestFrameCapture, timeout: float = 10.0) -> list[CapturedFrame]:
    """Take every frame until the capture finishes (consumer on a private event loop)."""

    async def run() -> list[CapturedFrame]:
        out: list[CapturedFrame] = []
        while True:
            item = await capture.take(timeout)
            if item is None:
                assert capture.finished, "timed out waiting for a frame"
                return out
            out.append(item)

    return asyncio.run(run())


def test_backoff_doubles_caps_and_jitters() -> None:
    backoff = Backoff(ReconnectConfig(initial_s=1, max_s=8, jitter=0.2), random.Random(7))
    delays = [backoff.next_delay() for _ in range(6)]
    for d, base in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert base * 0.8 <= d <= base * 1.2
    assert len({round(d, 6) for d in delays[3:]}) == 3  # jitter: capped delays still differ
    backoff.reset()
    assert 0.8 <= backoff.next_delay() <= 1.2


def test_lossless_file_delivers_every_frame_then_ends() -> None:
    clock = ManualClock()
    src = ScriptedSource([solid(i) for i in range(30)], clock=clock, advance=0.04)
    capture = LatestFrameCapture(
        cam(realtime=False), opener=ScriptedOpener(src), clock=clock, wait=RecordingWait()
    )
    statuses = Statuses()
    capture.add_listener(statuses)
    capture.start()
    items = drain(capture)
    assert [int(i.frame.image[0, 0, 0]) for i in items] == list(range(30))
    assert [i.frame.index for i in items] == list(range(30))
    assert capture.dropped == 0 and capture.frames_read == 30
    assert statuses.states == ["online", "ended"]
    assert items[1].frame.monotonic - items[0].frame.monotonic == pytest.approx(0.04)
    capture.stop()


def test_live_source_keeps_only_the_latest_frame_and_counts_drops() -> None:
    src = ScriptedSource([solid(i) for i in range(50)], finite=False)
    capture = LatestFrameCapture(cam(), opener=ScriptedOpener(src), wait=RecordingWait())
    capture.start()
    # Nobody takes frames while the live source produces them: all but the newest are dropped.
    assert wait_until(lambda: capture.state == "ended")
    assert capture.frames_read == 50
    assert capture.dropped == 49
    last = capture.take_nowait()
    assert last is not None and int(last.frame.image[0, 0, 0]) == 49
    capture.stop()


def test_realtime_file_is_paced_at_native_fps() -> None:
    clock = ManualClock()
    wait = RecordingWait(clock)
    src = ScriptedSource([solid(i) for i in range(11)], fps=10.0)
    capture = LatestFrameCapture(
        cam(realtime=True), opener=ScriptedOpener(src), clock=clock, wait=wait
    )
    capture.start()
    assert wait_until(lambda: capture.state == "ended")
    capture.stop()
    # 11 frames at 10 fps span 1.0 s of (manual) time, paced in 0.1 s steps; the end is
    # found without waiting another period.
    assert sum(wait.delays) == pytest.approx(1.0)
    assert all(d == pytest.approx(0.1) for d in wait.delays)


def test_loop_restarts_file_with_a_new_generation() -> None:
    src = ScriptedSource([solid(i) for i in range(5)])
    capture = LatestFrameCapture(
        cam(realtime=False, loop=True), opener=ScriptedOpener(src), wait=RecordingWait()
    )
    capture.start()

    async def take(n: int) -> list[CapturedFrame]:
        return [item for _ in range(n) if (item := await capture.take(5.0)) is not None]

    items = asyncio.run(take(12))
    capture.stop()
    assert [int(i.frame.image[0, 0, 0]) for i in items] == [0, 1, 2, 3, 4] * 2 + [0, 1]
    assert [i.generation for i in items] == [1] * 5 + [2] * 5 + [3] * 2
    assert capture.state == "stopped"


def test_failures_back_off_report_once_and_recover() -> None:
    clock = ManualClock()
    wait = RecordingWait(clock)
    src = ScriptedSource([solid(i) for i in range(3)])
    lost = [SourceUnavailable("cam.mp4", "file not found") for _ in range(4)]
    opener = ScriptedOpener(src, lost)
    cfg = cam(realtime=False, reconnect=ReconnectConfig(initial_s=1, max_s=4, jitter=0.1))
    capture = LatestFrameCapture(cfg, opener=opener, clock=clock, wait=wait, rng=random.Random(1))
    statuses = Statuses()
    capture.add_listener(statuses)
    capture.start()
    assert len(drain(capture)) == 3
    assert opener.calls == 5
    for d, base in zip(wait.delays, [1, 2, 4, 4], strict=True):
        assert base * 0.9 <= d <= base * 1.1
    # One offline report for four failed attempts (the reason did not change), then online.
    assert statuses.states == ["offline", "online", "ended"]
    assert statuses.items[0].reason == "cam.mp4: file not found"
    capture.stop()


def test_corrupt_source_reports_error_and_keeps_retrying() -> None:
    src = ScriptedSource([solid(1)])
    opener = ScriptedOpener(src, [SourceCorrupt("/x/bad.mp4", "not a decodable video")] * 2)
    capture = LatestFrameCapture(cam(realtime=False), opener=opener, wait=RecordingWait())
    statuses = Statuses()
    capture.add_listener(statuses)
    capture.start()
    assert len(drain(capture)) == 1
    assert statuses.states == ["error", "online", "ended"]
    assert statuses.items[0].reason is not None and "/x/bad.mp4" in statuses.items[0].reason
    capture.stop()


def test_max_width_downscales_and_motion_thumbnail_is_made_off_loop() -> None:
    src = ScriptedSource([np.zeros((400, 800, 3), np.uint8)])
    cfg = cam(realtime=False, max_width=200, motion=MotionConfig(enabled=True))
    capture = LatestFrameCapture(cfg, opener=ScriptedOpener(src), wait=RecordingWait())
    capture.start()
    (item,) = drain(capture)
    assert item.frame.image.shape == (100, 200, 3)
    assert item.thumb is not None and item.thumb.shape == (80, 160)
    capture.stop()


def test_stop_and_start_again() -> None:
    src = ScriptedSource([solid(i) for i in range(3)], finite=False)
    capture = LatestFrameCapture(cam(), opener=ScriptedOpener(src), wait=RecordingWait())
    statuses = Statuses()
    capture.add_listener(statuses)
    capture.start()
    assert wait_until(lambda: capture.state == "ended")
    capture.stop(reason="disabled by command")
    assert capture.finished
    assert statuses.items[-1].state == "stopped"
    assert statuses.items[-1].reason == "disabled by command"
    capture.start()  # a new thread reads the source again
    assert wait_until(lambda: statuses.states.count("ended") == 2)
    assert capture.frames_read == 6
    assert statuses.states == ["online", "ended", "stopped", "online", "ended"]
    capture.stop()


# -- real files and streams ------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_corrupt_file_gives_error_status_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    capture = LatestFrameCapture(cam(str(bad), reconnect=FAST))
    statuses = Statuses()
    capture.add_listener(statuses)
    capture.start()
    assert wait_until(lambda: "error" in statuses.states)
    capture.stop()
    err = statuses.items[0]
    assert err.state == "error" and err.reason is not None
    assert str(bad) in err.reason and "not a decodable video" in err.reason


@pytest.mark.shared_data
def test_file_deleted_mid_run_goes_offline_and_reconnects(
    shared_data: SharedData, tmp_path: Path
) -> None:
    original = shared_data.path(SMALL_VIDEO)
    video = tmp_path / "cam.mp4"
    shutil.copy(original, video)
    capture = LatestFrameCapture(cam(str(video), loop=True, realtime=False, reconnect=FAST))
    statuses = Statuses()
    capture.add_listener(statuses)
    capture.start()

    async def consume(stop: threading.Event) -> int:
        n = 0
        while not stop.is_set():
            if await capture.take(0.05) is not None:
                n += 1
        return n

    stop = threading.Event()
    consumer = threading.Thread(target=lambda: asyncio.run(consume(stop)))
    consumer.start()
    try:
        assert wait_until(lambda: statuses.states == ["online"] and capture.frames_read > 5)
        video.unlink()
        assert wait_until(lambda: "offline" in statuses.states)
        offline = statuses.items[statuses.states.index("offline")]
        assert offline.reason is not None and str(video) in offline.reason
        shutil.copy(original, video)
        assert wait_until(lambda: statuses.states[-1] == "online")
        assert capture.reconnects == 1
    finally:
        stop.set()
        consumer.join()
        capture.stop()


class _MjpegHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        _ok, jpg = cv2.imencode(".jpg", np.full((60, 80, 3), 128, np.uint8))
        payload = jpg.tobytes()
        server = self.server
        assert isinstance(server, _MjpegServer)
        try:
            while not server.closing.is_set():
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                    + b"\r\n"
                )
                server.closing.wait(0.02)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: object) -> None:
        return None


class _MjpegServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _MjpegHandler)
        self.closing = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def mjpeg_port() -> Iterator[int]:
    yield free_port()


def test_stream_closed_goes_offline_and_reconnects(mjpeg_port: int) -> None:
    server = _MjpegServer(mjpeg_port)
    url = f"http://127.0.0.1:{mjpeg_port}/stream.mjpg"
    capture = LatestFrameCapture(cam(url, reconnect=FAST))
    statuses = Statuses()
    capture.add_listener(statuses)
    capture.start()
    try:
        assert wait_until(lambda: statuses.states == ["online"] and capture.frames_read >= 3)
        server.close()  # the camera goes away: connection closed, then refused
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", mjpeg_port), timeout=1).close()
        assert wait_until(lambda: "offline" in statuses.states)
        reason = statuses.items[statuses.states.index("offline")].reason
        assert reason is not None and url in reason
        before = capture.frames_read
        server = _MjpegServer(mjpeg_port)  # the camera is back on the same address
        assert wait_until(lambda: statuses.states[-1] == "online")
        assert wait_until(lambda: capture.frames_read > before)
        assert capture.reconnects == 1
    finally:
        capture.stop()
        server.close()
