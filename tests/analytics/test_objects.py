"""The objects analytic end to end: fake model for exact behaviour, real model on real video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from node.analytics.objects import ObjectsFactory, to_node_labels
from node.detect.detections import Detections
from node.frame import Frame
from node.lifecycle import EventLifecycle
from schemas.attributes import ObjectAttributes
from schemas.config.camera import CameraConfig
from schemas.config.objects import ObjectsConfig
from schemas.events import Lifecycle, Severity
from tests.conftest import SharedData
from tests.detect.fakes import FakeSession, encode_boxes, yolox_manifest

PERSON, KNIFE, TIE = 0, 43, 27


def frame(i: int, t: float, size: tuple[int, int] = (416, 416)) -> Frame:
    return Frame("cam1", i, np.zeros((*size, 3), dtype=np.uint8), 1000.0 + t, t)


def test_to_node_labels_maps_and_drops() -> None:
    d = Detections.from_arrays(np.zeros((3, 4)), [0.9] * 3, [34, 27, 0],
                               ["baseball bat", "tie", "person"])  # fmt: skip
    out = to_node_labels(d, frozenset({"stick", "person"}))
    assert out.labels.tolist() == ["stick", "person"]
    assert out.class_id.tolist() == [34, 0]


def test_observations_confirm_after_min_hits_and_carry_type_and_severity() -> None:
    raw = encode_boxes([(100, 100, 200, 300, PERSON, 0.9), (300, 50, 340, 90, KNIFE, 0.8),
                        (10, 10, 60, 60, TIE, 0.9)])  # fmt: skip
    session = FakeSession([raw], yolox_manifest())
    factory = ObjectsFactory(ObjectsConfig(enabled=True, min_hits=3), lambda: session)
    analytic = factory.create("cam1")
    results = [analytic.analyze(frame(i, i * 0.2)) for i in range(3)]
    assert [[o.confirmed for o in r.observations] for r in results] == [[False] * 2] * 2 + [
        [True] * 2
    ]
    person, knife = sorted(results[-1].observations, key=lambda o: o.label, reverse=True)
    assert (person.type, person.label, person.severity) == ("object", "person", Severity.INFO)
    assert (knife.type, knife.label, knife.severity) == ("weapon", "knife", Severity.HIGH)
    assert person.key != knife.key
    assert isinstance(person.attributes, ObjectAttributes) and person.attributes.hits == 3
    out = results[-1].outputs
    assert out["model"] == "yolox_nano@46979d5" and sorted(out["labels"]) == ["knife", "person"]
    np.testing.assert_allclose(sorted(out["boxes"]), [[100, 100, 200, 300], [300, 50, 340, 90]],
                               atol=0.01)  # fmt: skip
    # the session received a letterboxed NCHW tensor under the manifest's input name
    assert session.last_feeds["images"].shape == (1, 3, 416, 416)


def test_masks_and_per_label_thresholds() -> None:
    raw = encode_boxes([(100, 100, 200, 300, PERSON, 0.9), (300, 50, 340, 90, KNIFE, 0.35)])
    session = FakeSession([raw], yolox_manifest())
    cam = CameraConfig(name="cam1", source="0", masks=[[(90, 250), (210, 250), (210, 350)]])
    cfg = ObjectsConfig(enabled=True, min_hits=1, label_thresholds={"knife": 0.3},
                        tracker={"new_track_threshold": 0.3, "high_threshold": 0.3})  # fmt: skip
    analytic = ObjectsFactory(cfg, lambda: session, [cam]).create("cam1")
    obs = analytic.analyze(frame(0, 0.0)).observations
    # the person stands (bottom-centre 150, 300) in the mask; the 0.35 knife passes its 0.3
    assert [(o.label, o.confirmed) for o in obs] == [("knife", True)]


def test_wrong_model_family_is_a_clear_error() -> None:
    manifest = yolox_manifest().model_copy(update={"family": "generic", "decoding": None})
    analytic = ObjectsFactory(ObjectsConfig(), lambda: FakeSession([], manifest)).create("c")
    with pytest.raises(ValueError, match="needs 'yolox'"):
        analytic.analyze(frame(0, 0.0))


def test_session_is_read_per_frame_so_swaps_apply_between_frames() -> None:
    a = FakeSession([encode_boxes([(100, 100, 200, 300, PERSON, 0.9)])], yolox_manifest())
    b = FakeSession([encode_boxes([(100, 100, 200, 300, KNIFE, 0.9)])], yolox_manifest())
    current = [a]
    analytic = ObjectsFactory(ObjectsConfig(), lambda: current[0]).create("c")
    assert analytic.analyze(frame(0, 0.0)).outputs["labels"] == ["person"]
    current[0] = b
    assert analytic.analyze(frame(1, 0.2)).outputs["labels"] == ["knife"]
    assert a.calls == 1 and b.calls == 1


@pytest.mark.shared_data
@pytest.mark.slow
def test_pedestrians_get_one_new_and_one_end_per_track(shared_data: SharedData) -> None:
    """Every 2nd frame at 960x540: stable ids, one `new` and one `end` per tracked person."""
    from node.inference.session import ModelSession

    session = ModelSession(shared_data.path("models/yolox_nano.onnx"), yolox_manifest())
    cfg = ObjectsConfig(enabled=True)
    factory = ObjectsFactory(cfg, lambda: session)
    analytic = factory.create("ped")
    lifecycle = EventLifecycle("node1", "ped", update_interval_s=cfg.update_interval_s,
                               end_after_s=cfg.end_after_s)  # fmt: skip
    cap = cv2.VideoCapture(str(shared_data.path("datasets/videos/pedestrians.mp4")))
    events, seen, analysed, index = [], {}, 0, 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index % 2 == 0:
            t = index / 25.0
            f = Frame("ped", index, cv2.resize(image, (960, 540)), 1000.0 + t, t)
            result = analytic.analyze(f)
            analysed += 1
            for o in result.observations:
                seen[o.key] = seen.get(o.key, 0) + 1
            events += [e.event for e in lifecycle.observe(f, result.observations)]
        index += 1
    events += [e.event for e in lifecycle.expire(index / 25.0 + cfg.end_after_s, 2000.0)]
    assert analysed == 48
    news = [e for e in events if e.lifecycle is Lifecycle.NEW]
    ends = [e for e in events if e.lifecycle is Lifecycle.END]
    # one new and one end per track, never one per frame
    assert sorted(e.track_id for e in news) == sorted(e.track_id for e in ends)
    assert len({e.track_id for e in news}) == len(news)
    assert 10 <= len(news) <= 30, len(news)
    assert all(e.label == "person" for e in news)
    # people visible for the whole clip keep one id throughout (>= 90% of analysed frames)
    stable = [k for k, n in seen.items() if n >= 0.9 * analysed]
    print(f"ids={len(news)} stable={len(stable)}")
    assert len(stable) >= 5, seen


def test_camera_zones_reach_observations(tmp_path: Path) -> None:
    raw = encode_boxes([(100, 100, 200, 300, PERSON, 0.9)])
    zones = {
        "door": [(0.0, 0.0), (416.0, 0.0), (416.0, 416.0)],
        "road": [(0.0, 250.0), (250.0, 250.0), (0.0, 416.0)],
    }
    cam = CameraConfig(name="cam1", source="0", zones=zones)
    session = FakeSession([raw], yolox_manifest())
    analytic = ObjectsFactory(ObjectsConfig(min_hits=1), lambda: session, [cam]).create("cam1")
    attrs = analytic.analyze(frame(0, 0.0)).observations[0].attributes
    assert isinstance(attrs, ObjectAttributes) and attrs.zones == ["road"]


def test_unknown_labels_in_config_are_refused() -> None:
    cfg = ObjectsConfig(labels=["person", "lightsaber"], label_thresholds={"knif": 0.3})
    with pytest.raises(ValueError, match=r"unknown labels \['knif', 'lightsaber'\]"):
        ObjectsFactory(cfg, lambda: FakeSession([], yolox_manifest()))


@pytest.mark.parametrize(
    ("box", "margin", "shape"),
    [
        ((10, 20, 30, 60), 0.0, (40, 20)),
        ((10, 20, 30, 60), 0.5, (80, 40)),  # 10 px / 20 px more on each side
        ((0, 0, 100, 50), 0.5, (75, 150)),  # clipped at the top-left corner
        ((199, 99, 199, 99), 0.0, (1, 1)),  # degenerate box at the corner: still 1x1
    ],
)
def test_snapshot_crop(box: tuple[float, ...], margin: float, shape: tuple[int, int]) -> None:
    from node.analytics.objects import snapshot_crop

    image = np.zeros((100, 200, 3), dtype=np.uint8)
    crop = snapshot_crop(image, np.asarray(box, dtype=np.float32), margin)
    assert crop.shape[:2] == shape
