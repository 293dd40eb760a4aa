"""The whole node over a real Mosquitto: movement + faces + Home Assistant.

The movement analytic is replaced by a scripted one (its own tests cover recognition) that reports
a fight of the two people in the frame, and later a fall, and calls the escalation hook the node
wires in, from its worker thread, as the real analytic does. The face analytic, its models and
gallery are real; the camera is a video of a frame holding a celebrity's photo and the astronaut.
Checked over the broker: the `movement` events, one `movement.identified` per escalation
(unknown before enrollment, the name after `face_enroll`), the retained per-action counts, and
the discovery payload's movement entities.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np
import pytest

from node.analytics.base import AnalysisResult, Analytic, Observation
from node.analytics.registry import BUILDERS, AnalyticBuilder
from node.app import Node
from node.config import load_config
from node.frame import Frame
from node.movement.escalation import EscalationRequest
from node.movement.factory import event_types as movement_event_types
from schemas.attributes import MovementAttributes
from schemas.config.movement import MovementConfig
from schemas.events import Severity
from tests.conftest import MosquittoBroker, SharedData
from tests.movement.test_escalation import BOX_KNOWN, BOX_STRANGER, KNOWN, _paste
from tests.runtime.conftest import Collector, node_yaml

pytestmark = [pytest.mark.broker, pytest.mark.shared_data, pytest.mark.timeout(120)]
BASE = "citywatch/t1"
FALL_NOW = threading.Event()  # the test asks the scripted analytic for the fall


class ScriptedMovement:
    """From its 3rd frame: tracks 3 and 4 fight; once ``FALL_NOW`` is set: track 5 falls."""

    name = "movement"

    def __init__(self, camera: str, escalation: Any) -> None:
        self._camera = camera
        self._escalation = escalation
        self._n = 0
        self._escalated: set[str] = set()

    def reset(self) -> None:
        return None

    def analyze(self, frame: Frame) -> AnalysisResult:
        self._n += 1
        obs: list[Observation] = []
        if self._n >= 3:
            obs += [self._obs(3, "fight", BOX_KNOWN), self._obs(4, "fight", BOX_STRANGER)]
            self._escalate(frame, "fight", (3, 4), (BOX_KNOWN, BOX_STRANGER))
        if FALL_NOW.is_set():
            obs.append(self._obs(5, "fall", BOX_KNOWN))
            self._escalate(frame, "fall", (5,), (BOX_KNOWN,))
        return AnalysisResult(analytic=self.name, outputs={}, observations=obs, inference_ms=0.1)

    def _obs(self, tid: int, action: str, box: Any) -> Observation:
        return Observation(key=f"{tid}:{action}", type="movement", label=action, score=0.9,
                           box=np.asarray(box, np.float32), severity=Severity.HIGH,
                           attributes=MovementAttributes(track_id=tid, action=action,
                                                         probs={action: 0.9}))

    def _escalate(self, frame: Frame, action: str, tids: tuple[int, ...], boxes: Any) -> None:
        if action in self._escalated or self._escalation is None:
            return
        self._escalated.add(action)
        self._escalation(EscalationRequest(self._camera, action, tids, boxes, frame))


class ScriptedFactory:
    name = "movement"
    gated = False
    model_label = None

    def __init__(self, cfg: MovementConfig, escalation: Any) -> None:
        self.config = cfg
        self.end_after_s = cfg.end_after_s
        self._escalation = escalation

    def create(self, camera: str) -> Analytic:
        return ScriptedMovement(camera, self._escalation)

    def close(self) -> None:
        return None


def _build_scripted(config: Any, ctx: Any) -> ScriptedFactory:
    escalation = ctx.services.escalation if ctx.services is not None else None
    return ScriptedFactory(config.analytics.movement, escalation)


# Declares what the real movement analytic declares: discovery is checked below.
build_scripted = AnalyticBuilder(_build_scripted, movement_event_types)


def _camera(shared_data: SharedData, path: Path) -> Path:
    img = np.full((720, 1280, 3), 90, np.uint8)
    celeb = shared_data.path("datasets/faces/celeb5/test") / KNOWN
    _paste(img, cv2.imread(str(sorted(celeb.iterdir())[0])), BOX_KNOWN)
    astronaut = cv2.imread(str(shared_data.path("datasets/images/astronaut.png")))
    _paste(img, astronaut[:300, 130:430], BOX_STRANGER)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (1280, 720))
    assert writer.isOpened()
    for _ in range(50):
        writer.write(img)
    writer.release()
    return path


def _events(col: Collector, kind: str) -> list[dict[str, Any]]:
    return [m.json() for m in col.messages if m.topic == f"{BASE}/events/{kind}"]


async def test_fall_and_fight_escalate_to_face_identification_over_mqtt(
    shared_data: SharedData, tmp_path: Path, mosquitto: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    monkeypatch.setitem(BUILDERS, "movement", f"{__name__}:build_scripted")
    FALL_NOW.clear()
    camera = _camera(shared_data, tmp_path / "camera.avi")
    path = node_yaml(tmp_path / "n.yaml", port=mosquitto.port, data_dir=tmp_path / "d",
                     source=str(camera))
    raw = json.loads(path.read_text())
    raw["analytics"] = {"faces": {"enabled": True, "fps": 2},
                        "movement": {"enabled": True, "fps": 5}}
    raw["models"] = {"store_dir": str(tmp_path / "models")}
    raw["homeassistant"] = {"enabled": True}
    path.write_text(json.dumps(raw))
    col = Collector(mosquitto.host, mosquitto.port, [f"{BASE}/#", "homeassistant/#"])
    await col.start()
    try:
        async with Node(load_config(path)) as node, \
                aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            assert node.services is not None and not node.analytics_failed
            escalations = node.services.escalation
            assert escalations is not None
            # (a) nobody enrolled: the fight's two people are unknown faces
            await col.wait_for(lambda: bool(_events(col, "movement.identified")), 40)
            first = _events(col, "movement.identified")[0]
            assert first["label"] == "fight" and first["lifecycle"] == "new"
            a = first["attributes"]
            assert a["track_ids"] == [3, 4] and a["identities"] == []
            assert [p["status"] for p in a["people"]] == ["unknown", "unknown"]
            assert a["unknown_faces"] == 2
            fights = [e for e in _events(col, "movement") if e["lifecycle"] == "new"]
            assert sorted(e["attributes"]["track_id"] for e in fights) == [3, 4]

            # (b) enroll the celebrity over MQTT; the next escalation names them
            train = sorted((shared_data.path("datasets/faces/celeb5/train") / KNOWN).iterdir())
            rid = uuid.uuid4().hex
            images = [base64.b64encode(p.read_bytes()).decode() for p in train[:6]]
            await client.publish(f"{BASE}/cmd/face_enroll", json.dumps(
                {"request_id": rid, "params": {"name": KNOWN, "images": images}}), qos=1)
            await col.wait_for(lambda: any(m.json().get("request_id") == rid
                                           for m in col.on("/reply/face_enroll")), 30)
            reply = next(m.json() for m in col.on("/reply/face_enroll")
                         if m.json().get("request_id") == rid)
            assert reply["ok"], reply
            FALL_NOW.set()
            await col.wait_for(lambda: len(_events(col, "movement.identified")) >= 2, 30)
            second = _events(col, "movement.identified")[1]
            assert second["label"] == "fall" and second["severity"] == "critical"
            assert second["attributes"]["identities"] == [KNOWN]
            (person,) = second["attributes"]["people"]
            assert person["track_id"] == 5 and person["status"] == "identified"
            assert person["identity"] == KNOWN and person["authorised"] is False

            # (c) the retained counts followed the `new` movement events
            def counts() -> dict[str, int]:
                msgs = col.on("/state/movement/counts")
                return dict(msgs[-1].json()["counts"]) if msgs else {}

            await col.wait_for(lambda: counts().get("fall") == 1, 10)
            assert counts() == {"walk": 0, "run": 0, "fall": 1, "fight": 2}
            assert col.on("/state/movement/counts")[0].json()["counts"]["fight"] == 0  # at start
            assert escalations.stats.identified == 2
            # the counters are part of the node's stats (published on `<base>/stats`)
            esc = node.stats().escalation
            assert esc is not None and (esc.requested, esc.identified) == (2, 2)
            assert (esc.dropped, esc.failed) == (0, 0)
    finally:
        FALL_NOW.clear()
        await col.stop()

    # discovery: the movement entities HA builds from it
    disc = [m.json() for m in col.messages if m.topic == "homeassistant/device/t1/config"]
    assert disc
    cmps = disc[-1]["cmps"]
    assert cmps["event_movement"]["event_types"] == ["walk", "run", "fall", "fight"]
    assert cmps["event_movement_identified"]["event_types"] == ["fall", "fight"]
    assert cmps["movement_fall_count"]["state_class"] == "total_increasing"
