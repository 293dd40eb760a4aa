"""Event snapshots: which image, settings per analytic, ``has_snapshot`` before the outbox."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from node.analytics.base import AnalysisResult, Observation
from node.clock import ManualClock
from node.frame import Frame
from node.outbox import Outbox
from node.sink import OutboxEventSink
from node.snapshots import OverlayTap, SnapshotRenderer, encode_jpeg, settings_for
from schemas.config import NodeConfig
from schemas.config.outbox import OutboxConfig
from schemas.events import Box, Event, Lifecycle
from tests.contract.recorded import recorded_attributes, typed_attributes

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _config(**kw: Any) -> NodeConfig:
    return NodeConfig.model_validate({"node_id": "n1", **kw})


def _frame(value: int = 10, w: int = 320, h: int = 240) -> Frame:
    return Frame("cam", 0, np.full((h, w, 3), value, np.uint8), 1.0, 1.0)


def _event(lifecycle: Lifecycle, type_: str = "object", box: Box | None = None) -> Event:
    return Event(
        node_id="n1",
        camera="cam",
        type=type_,
        track_id="t1",
        lifecycle=lifecycle,
        started_at=T0,
        ended_at=T0 if lifecycle is Lifecycle.END else None,
        score=0.9,
        box=box,
        label="person",
        attributes=recorded_attributes(type_),
    )


def _decode(jpeg: bytes) -> np.ndarray[Any, Any]:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.mark.parametrize(
    ("width", "max_width", "expected"), [(1920, 640, (360, 640)), (320, 640, (180, 320))]
)
def test_encode_jpeg_downscales_keeping_aspect(
    width: int, max_width: int, expected: tuple[int, int]
) -> None:
    image = np.zeros((width * 9 // 16, width, 3), np.uint8)
    assert _decode(encode_jpeg(image, max_width, 80)).shape[:2] == expected


def test_objects_section_overrides_node_settings() -> None:
    cfg = _config(
        snapshots={"max_width": 800, "jpeg_quality": 70},
        analytics={"objects": {"snapshot": {"max_width": 200, "crop_margin": 0.5}}},
    )
    s = settings_for(cfg, "objects")
    assert (s.max_width, s.jpeg_quality, s.crop_margin) == (200, 70, 0.5)
    assert settings_for(cfg, "fire").max_width == 800  # no own section: node-wide settings
    assert not settings_for(_config(snapshots={"enabled": False}), "objects").enabled
    off = _config(analytics={"objects": {"snapshot": {"enabled": False}}})
    assert not settings_for(off, "objects").enabled and settings_for(off, None).enabled


def test_overlay_replaces_the_frame_for_its_event_type_only() -> None:
    tap = OverlayTap()
    frame = _frame(10)
    overlay = np.full_like(frame.image, 200)
    fire = Observation(key="fire", type="fire", label="fire", score=0.9,
                       attributes=typed_attributes("fire"))
    tap.record("fire", frame, AnalysisResult("fire", {}, [fire], overlay=overlay))
    tap.record("objects", frame, AnalysisResult("objects", {}, []))
    renderer = SnapshotRenderer(_config(), tap)
    assert _decode(renderer.render(_event(Lifecycle.NEW, "fire"), frame).full).mean() > 190
    assert _decode(renderer.render(_event(Lifecycle.NEW, "object"), frame).full).mean() < 20
    assert tap.analytic_of("fire") == "fire"


def test_crop_only_for_new_events_with_a_box() -> None:
    renderer = SnapshotRenderer(_config(), OverlayTap())
    box = Box(x1=100, y1=50, x2=140, y2=150)
    new = renderer.render(_event(Lifecycle.NEW, box=box), _frame())
    assert new.crop is not None
    h, w = _decode(new.crop).shape[:2]
    assert (w, h) == (52, 130)  # the box grown by 15 % on each side
    assert renderer.render(_event(Lifecycle.END, box=box), _frame()).crop is None
    assert renderer.render(_event(Lifecycle.NEW), _frame()).crop is None


class FakeLink:
    def __init__(self, connected: bool) -> None:
        self.connected = asyncio.Event()
        if connected:
            self.connected.set()
        self.published: list[tuple[str, bytes, bool]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        self.published.append((topic, payload, retain))
        return True

    async def set_state(self, suffix: str, payload: bytes | str) -> None:
        return None


async def _sink_run(
    tmp_path: Path, connected: bool, events: list[tuple[Event, Frame | None]]
) -> Any:
    cfg = _config()
    outbox = Outbox(tmp_path / "o.sqlite", OutboxConfig(), ManualClock())
    await outbox.open()
    link = FakeLink(connected)
    executor = ThreadPoolExecutor(1)
    sink = OutboxEventSink(
        outbox,
        link,
        cfg,
        executor,
        SnapshotRenderer(cfg, OverlayTap()),  # type: ignore[arg-type]
    )
    try:
        for event, frame in events:
            await sink.emit(event, frame)
        await sink.drain()
        rows = await outbox.head(100)
    finally:
        await outbox.close()
        executor.shutdown()
    return [json.loads(r.payload) for r in rows], link.published


async def test_has_snapshot_is_set_in_the_stored_event(tmp_path: Path) -> None:
    box = Box(x1=10, y1=10, x2=50, y2=90)
    stored, published = await _sink_run(
        tmp_path,
        True,
        [
            (_event(Lifecycle.NEW, box=box), _frame()),
            (_event(Lifecycle.UPDATE, box=box), None),
            (_event(Lifecycle.END, box=box), _frame()),
        ],
    )
    assert [e["has_snapshot"] for e in stored] == [True, False, True]
    topics = [(t, r) for t, _, r in published]
    assert topics == [
        ("citywatch/n1/cam/snapshot", False),
        ("citywatch/n1/events/object/snapshot", True),
        ("citywatch/n1/cam/snapshot/crop", False),
        ("citywatch/n1/events/object/snapshot/crop", True),
        ("citywatch/n1/cam/snapshot", False),
        ("citywatch/n1/events/object/snapshot", True),
    ]
    assert all(p[:2] == b"\xff\xd8" for _, p, _ in published)  # JPEG magic


async def test_no_snapshot_promised_while_the_broker_is_away(tmp_path: Path) -> None:
    stored, published = await _sink_run(tmp_path, False, [(_event(Lifecycle.NEW), _frame())])
    assert [e["has_snapshot"] for e in stored] == [False]
    assert published == []
