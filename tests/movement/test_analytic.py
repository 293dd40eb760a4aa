"""The movement analytic end to end: fakes for the models (behaviour of the glue), the real
models on an empty street (no person, no event), config and registry wiring."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from node.analytics.registry import BUILDERS
from node.frame import Frame
from node.lifecycle import EventLifecycle
from node.movement.analytic import MovementAnalytic
from node.movement.escalation import EscalationRequest
from node.movement.factory import MovementFactory, classifier_from
from node.movement.pose_estimator import PoseEstimator
from schemas.attributes import MovementAttributes
from schemas.config import NodeConfig
from schemas.config.movement import MovementConfig
from schemas.manifest import ModelManifest


class FakeDetector:
    """A YOLOX-shaped session whose output is built from a scripted list of person boxes."""

    def __init__(self, manifest: ModelManifest) -> None:
        self.manifest = manifest
        self.boxes: list[tuple[float, float, float, float]] = []

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        from node.detect.yolox import make_grid

        grid, stride = make_grid((416, 416))
        out = np.zeros((1, grid.shape[0], 85), np.float32)
        out[0, :, 2:4] = -5
        for b in self.boxes:  # frames here are 416x416: no letterbox scaling
            cx, cy, w, h = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]
            k = int(np.argmin(np.abs((grid[:, 0] + 0.5) * stride[:, 0] - cx)
                              + np.abs((grid[:, 1] + 0.5) * stride[:, 0] - cy)
                              + (stride[:, 0] != 32) * 1e6))
            s = stride[k, 0]
            out[0, k, :4] = [cx / s - grid[k, 0], cy / s - grid[k, 1], np.log(w / s), np.log(h / s)]
            out[0, k, 4], out[0, k, 5] = 1.0, 0.9
        return [out]


class NoPoses:
    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return [np.zeros((1, 6, 56), np.float32)]


@pytest.fixture
def detector() -> FakeDetector:
    from node.registry.defaults import default_registry

    return FakeDetector(default_registry()["yolox_nano"].manifest)


def _analytic(detector: FakeDetector, escalations: list[EscalationRequest],
              cfg: MovementConfig | None = None) -> MovementAnalytic:
    cfg = cfg or MovementConfig(enabled=True)
    pose = PoseEstimator(lambda: NoPoses(), "input")
    factory = MovementFactory(cfg, lambda: detector, pose, classifier_from(cfg), escalations.append)
    a = factory.create("cam")
    assert isinstance(a, MovementAnalytic)
    return a


def _frame(i: int, t: float) -> Frame:
    return Frame("cam", i, np.zeros((416, 416, 3), np.uint8), 1000.0 + t, t)


def test_a_person_falling_and_staying_down_raises_one_fall(detector: FakeDetector) -> None:
    escalations: list[EscalationRequest] = []
    a = _analytic(detector, escalations)
    lc = EventLifecycle("n", "cam", update_interval_s=10.0, end_after_s=3.0)
    events = []
    script = ([(150, 60, 210, 300)] * 20
              + [(150, 60 + 60 * k, 210 + 40 * k, 300) for k in range(1, 4)]
              + [(120, 250, 320, 300)] * 20)
    for i, box in enumerate(script):
        detector.boxes = [box]
        r = a.analyze(_frame(i, i / 8))
        events += [e.event for e in lc.observe(_frame(i, i / 8), r.observations)]
    falls = [e for e in events if e.label == "fall"]
    assert [e.lifecycle.value for e in falls] == ["new"]
    attrs = falls[0].attributes
    assert isinstance(attrs, MovementAttributes)
    assert attrs.descent_speed is not None and attrs.descent_speed > 1.0
    assert attrs.time_on_ground_s is not None and attrs.time_on_ground_s >= 1.0
    assert falls[0].type == "movement" and falls[0].box is not None
    assert a.counts["fall"] == 1
    # the detector's box jumps as the body goes down, so the tracker may hand over to a new id;
    # the fall machine follows the person, and the escalation names the id that fell
    assert [e.action for e in escalations] == ["fall"]
    assert escalations[0].track_ids == (attrs.track_id,)


def test_standing_still_raises_nothing(detector: FakeDetector) -> None:
    escalations: list[EscalationRequest] = []
    a = _analytic(detector, escalations)
    detector.boxes = [(150, 60, 210, 300)]
    for i in range(40):
        r = a.analyze(_frame(i, i / 8))
        assert not [o for o in r.observations if o.label in ("fall", "fight", "run")]
    assert escalations == []


def test_no_person_no_event(detector: FakeDetector) -> None:
    a = _analytic(detector, [])
    for i in range(20):
        r = a.analyze(_frame(i, i / 8))
        assert r.observations == [] and r.outputs["tracks"] == []


def test_config_and_registry_wiring() -> None:
    cfg = NodeConfig.model_validate({"node_id": "n", "analytics": {"movement": {
        "enabled": True, "fall": {"ground_s": 2.0}}}})
    assert cfg.analytics.movement.fall.ground_s == 2.0
    assert BUILDERS["movement"] == "node.movement.factory:build"
    with pytest.raises(ValueError, match="vote_k"):
        MovementConfig(vote_k=9, vote_n=8)


def test_empty_street_video_gives_no_movement_event(shared_data: Any) -> None:
    """Real detector, real MoveNet, real classifier on street.mp4 (road traffic, no one on
    foot): no movement event."""
    from node.cli.analyze_cmd import read_frames
    from node.movement.evaluate import factory_from_dir

    cfg = MovementConfig(enabled=True)
    factory = factory_from_dir(cfg, shared_data.path("models"))
    a = factory.create("street")
    lc = EventLifecycle("n", "street", update_interval_s=10.0, end_after_s=3.0)
    path = Path(shared_data.path("datasets/videos/street.mp4"))
    events = []
    for sf in read_frames(path, every=3, max_frames=40):
        frame = Frame("street", sf.index, sf.image, 1000.0 + sf.time_s, sf.time_s)
        events += lc.observe(frame, a.analyze(frame).observations)
    assert events == []


def test_one_fight_is_escalated_once_with_all_its_fighters(detector: FakeDetector) -> None:
    """Every fighting track is a `fight` observation, but the incident asks for one face
    identification naming all fighters; a fighter who joins later asks again (with everyone)."""
    from node.movement.tracks import PersonTrack

    escalations: list[EscalationRequest] = []
    a = _analytic(detector, escalations)
    cfg = MovementConfig(enabled=True)

    def fighter(tid: int, t: float) -> PersonTrack:
        tr = PersonTrack(tid, a._inherit(np.array([0, 0, 1, 1], np.float32), t))
        tr.add(t, np.array([10 * tid, 50, 10 * tid + 60, 250], np.float32),
               np.zeros((17, 3), np.float32), np.zeros(2, np.float32))
        for _ in range(cfg.vote_n):
            tr.vote("fight", True, cfg.vote_n)
        a._tracks[tid] = tr
        return tr

    fighter(1, 1.0)
    fighter(2, 1.0)
    obs = a._observations(_frame(8, 1.0), 1.0)
    assert sorted(o.key for o in obs if o.label == "fight") == ["1:fight", "2:fight"]
    assert [(e.action, sorted(e.track_ids)) for e in escalations] == [("fight", [1, 2])]
    a._observations(_frame(9, 1.0), 1.0)  # the same fight, next frame: nothing new
    assert len(escalations) == 1
    fighter(3, 1.0)
    a._observations(_frame(10, 1.0), 1.0)
    assert [sorted(e.track_ids) for e in escalations] == [[1, 2], [1, 2, 3]]
