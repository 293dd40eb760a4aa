"""Zone occurrences through the event lifecycle: the events a consumer receives."""

from __future__ import annotations

import numpy as np
import pytest

from node.frame import Frame
from node.lifecycle import EventLifecycle
from node.zones import ZoneEngine, ZoneLayout
from node.zones.observations import zone_observations
from schemas.attributes import (
    LineCrossedAttributes,
    ZoneLoiteringAttributes,
    ZoneOvercrowdedAttributes,
    ZoneWrongWayAttributes,
)
from schemas.config.zones import LineConfig, ZoneLogicConfig, ZoneRulesConfig
from schemas.events import Event, Lifecycle
from tests.zones.tracks import Scene, detections, walk

EPOCH = 1_700_000_000.0
IMG = np.zeros((8, 8, 3), np.uint8)
SQUARE = [(400.0, 400.0), (600.0, 400.0), (600.0, 600.0), (400.0, 600.0)]


def events(scene: Scene, layout: ZoneLayout) -> list[tuple[float, Event]]:
    """(frame time, event) of everything the scene causes, update_interval_s 5, end_after 3."""
    eng = ZoneEngine(layout, ZoneLogicConfig())
    lc = EventLifecycle("n1", "cam", update_interval_s=5.0, end_after_s=3.0)
    out = []
    for i, objs in enumerate(scene.frames):
        t = i / scene.fps
        frame = Frame("cam", i, IMG, EPOCH + t, t)
        dets, confirmed = detections(objs)
        for e in lc.observe(frame, zone_observations(eng.update(dets, confirmed, t), frame)):
            out.append((t, e.event))
    return out


def test_line_crossed_event() -> None:
    line = LineConfig(name="door", points=((0, 500), (1000, 500)))
    got = events(Scene().add(0, walk(7, (500, 700), (500, 300), 41)), ZoneLayout(lines=[line]))
    ((t, e),) = got
    assert (e.type, e.lifecycle, e.label) == ("line.crossed", Lifecycle.NEW, "person")
    a = e.attributes
    assert isinstance(a, LineCrossedAttributes)
    assert (a.line, a.direction, a.track, a.label) == ("door", "in", 7, "person")
    assert t == pytest.approx(2.3) and e.box is not None


def test_loitering_new_update_end() -> None:
    path = walk(1, (300, 500), (300, 500), 20) + walk(1, (500, 500), (500, 500), 180)
    path += walk(1, (700, 500), (700, 500), 30)
    layout = ZoneLayout(zones={"cash": SQUARE}, rules={"cash": ZoneRulesConfig(loitering_s=10)})
    got = [(t, e) for t, e in events(Scene().add(0, path), layout)]
    attrs = [e.attributes for _, e in got if isinstance(e.attributes, ZoneLoiteringAttributes)]
    kinds = [(round(t, 1), e.lifecycle.value, a.dwell_s)
             for (t, e), a in zip(got, attrs, strict=True)]
    assert kinds == [(12.0, "new", 10.0), (17.0, "update", 15.0), (20.5, "end", 18.0)]
    end = got[-1][1]
    assert end.type == "zone.loitering" and isinstance(end.attributes, ZoneLoiteringAttributes)
    assert end.attributes.zone == "cash"
    assert end.ended_at is not None and end.ended_at.timestamp() == pytest.approx(EPOCH + 20.0)
    assert end.attributes.entered_at.timestamp() == EPOCH + 2.0
    assert len({e.track_id for _, e in got}) == 1


def test_overcrowded_new_and_end_with_count() -> None:
    s = Scene()
    for tid, x in ((1, 450), (2, 500), (3, 550)):
        s.add(0, walk(tid, (x, 500), (x, 500), 60) + walk(tid, (700, 500), (700, 500), 20))
    rules = ZoneRulesConfig(max_occupancy=2, for_s=2)
    got = events(s, ZoneLayout(zones={"plaza": SQUARE}, rules={"plaza": rules}))
    attrs = [e.attributes for _, e in got if isinstance(e.attributes, ZoneOvercrowdedAttributes)]
    kinds = [(round(t, 1), e.lifecycle.value, a.count)
             for (t, e), a in zip(got, attrs, strict=True)]
    assert kinds == [(2.0, "new", 3), (6.5, "end", 0)]
    assert attrs[0].by_label == {"person": 3}
    assert got[1][1].ended_at is not None
    assert got[1][1].ended_at.timestamp() == pytest.approx(EPOCH + 6.0)


def test_wrong_way_event() -> None:
    layout = ZoneLayout(zones={"stairs": SQUARE}, rules={"stairs": ZoneRulesConfig(direction="up")})
    got = events(Scene().add(0, walk(4, (450, 300), (450, 700), 80)), layout)
    ((_, e),) = got
    assert (e.type, e.lifecycle) == ("zone.wrong_way", Lifecycle.NEW)
    a = e.attributes
    assert isinstance(a, ZoneWrongWayAttributes)
    assert (a.zone, a.heading_deg, a.allowed_deg, a.track) == ("stairs", 90.0, 270.0, 4)
