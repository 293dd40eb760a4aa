"""Zones and lines inside the objects analytic: a fake detector, a person walking up across a
line and through a zone, events through the lifecycle, counts in the store."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from node.analytics.objects import ObjectsFactory
from node.clock import ManualClock
from node.frame import Frame
from node.lifecycle import EventLifecycle
from node.zones import CounterStore
from schemas.attributes import LineCrossedAttributes
from schemas.config.camera import CameraConfig
from schemas.config.objects import ObjectsConfig
from tests.detect.fakes import FakeSession, encode_boxes, yolox_manifest

PERSON = 0
CAMERA = CameraConfig(
    name="cam1",
    source="0",
    zones={"door": [(150, 200), (270, 200), (270, 320), (150, 320)]},
    lines=[{"name": "kerb", "points": [(0, 200), (416, 200)]}],
    zone_rules={"door": {"max_occupancy": 0}},
)


def walking_up(n: int) -> list[np.ndarray]:
    """A person 80 px tall walking up the frame, 10 px per frame, feet from y=380."""
    return [encode_boxes([(190, 300 - 10 * k, 230, 380 - 10 * k, PERSON, 0.9)]) for k in range(n)]


def test_a_person_crossing_a_line_and_crowding_a_zone() -> None:
    session = FakeSession(walking_up(30), yolox_manifest())
    store = CounterStore({"cam1": (["kerb"], ["door"])}, ManualClock().time)
    factory = ObjectsFactory(ObjectsConfig(enabled=True, min_hits=3), lambda: session, [CAMERA],
                             counts=store)  # fmt: skip
    analytic = factory.create("cam1")
    lc = EventLifecycle("n1", "cam1", update_interval_s=60.0, end_after_s=3.0)
    events = []
    for i in range(30):
        f = Frame("cam1", i, np.zeros((416, 416, 3), np.uint8), 1000.0 + i * 0.2, i * 0.2)
        result = analytic.analyze(f)
        events += [(i, e.event) for e in lc.observe(f, result.observations)]
    kinds = [(e.type, e.lifecycle.value) for _, e in events]
    assert kinds.count(("line.crossed", "new")) == 1
    assert ("zone.overcrowded", "new") in kinds and ("zone.overcrowded", "end") in kinds
    crossed = next(e for _, e in events if e.type == "line.crossed")
    assert isinstance(crossed.attributes, LineCrossedAttributes)
    assert (crossed.attributes.line, crossed.attributes.direction) == ("kerb", "in")
    state = store.state("cam1")
    assert state.lines["kerb"].in_count == 1 and state.lines["kerb"].in_by_label == {"person": 1}
    assert (state.zones["door"].in_count, state.zones["door"].out_count) == (1, 1)
    assert "occupancy" in result.outputs


def test_cameras_without_lines_or_zones_run_no_zone_logic() -> None:
    session = FakeSession(walking_up(3), yolox_manifest())
    analytic = ObjectsFactory(ObjectsConfig(enabled=True), lambda: session).create("cam1")
    f = Frame("cam1", 0, np.zeros((416, 416, 3), np.uint8), 1000.0, 0.0)
    assert "occupancy" not in analytic.analyze(f).outputs


def test_lines_naming_unreported_labels_are_refused() -> None:
    cam = CAMERA.model_copy(
        update={"lines": [CAMERA.lines[0].model_copy(update={"labels": ["car"]})]}
    )
    with pytest.raises(ValueError, match=r"analytics.objects.labels"):
        ObjectsFactory(ObjectsConfig(), lambda: FakeSession([], yolox_manifest()), [cam])


@pytest.mark.parametrize(
    ("camera", "match"),
    [({"zone_rules": {"nowhere": {}}}, "undefined zones"),
     ({"lines": [{"name": "a", "points": [(0, 0), (1, 1)]}] * 2}, "line names must be unique"),
     ({"lines": [{"name": "a", "points": [(5, 5), (5, 5)]}]}, "two distinct points"),
     ({"zones": {"z": [(0, 0), (1, 1)]}}, "at least 3 points"),
     ({"zone_rules": {"z": {"direction": "sideways"}}, "zones": {"z": [(0, 0), (9, 0), (9, 9)]}},
      "direction")],
)  # fmt: skip
def test_camera_zone_config_errors(camera: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        CameraConfig.model_validate({"name": "c", "source": "0", **camera})


def test_lost_grace_must_exceed_the_trackers_lost_after() -> None:
    with pytest.raises(ValidationError, match="lost_grace_s must exceed"):
        ObjectsConfig.model_validate(
            {"tracker": {"lost_after_s": 2.0}, "zone_logic": {"lost_grace_s": 1.5}}
        )


def test_declared_event_types_follow_the_cameras_lines_and_rules() -> None:
    from node.analytics.objects import event_types
    from schemas.config import NodeConfig

    bare = NodeConfig.model_validate({"cameras": [{"name": "a", "source": "0"}]})
    assert event_types(bare, ["objects"]) == ["object", "weapon", "drone"]
    drawn = NodeConfig.model_validate({"cameras": [CAMERA.model_dump()]})
    assert event_types(drawn, ["objects"])[-2:] == ["line.crossed", "zone.overcrowded"]
