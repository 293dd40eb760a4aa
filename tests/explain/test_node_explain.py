"""A running node (real Mosquitto, a camera on fire images, the bundled fire model): a `new`
fire event gets its configured explanation, and the `explain` command answers for that event by
id and for the camera's latest frame, with the overlay on the topic the reply names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np
import pytest

from node.app import Node
from schemas.commands import Reply
from schemas.config import NodeConfig
from schemas.explain import ExplainReport
from tests.conftest import MosquittoBroker, SharedData

pytestmark = [pytest.mark.broker, pytest.mark.shared_data, pytest.mark.slow]
FIRE_IMAGES = "datasets/fire_smoke/valid/images"


def _config(port: int, tmp: Path, folder: Path) -> NodeConfig:
    return NodeConfig.model_validate({
        "node_id": "ex1",
        "data_dir": str(tmp / "data"),
        "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_initial_s": 0.2},
        "homeassistant": {"enabled": False},
        "snapshots": {"enabled": False},
        "models": {"store_dir": str(tmp / "store")},
        "cameras": [{"name": "cam1", "source": str(folder), "loop": True, "read_fps": 10,
                     "motion": {"enabled": False}}],
        "analytics": {"fire": {"enabled": True, "fps": 10, "k": 1, "n": 1,
                               "explain": {"types": ["fire"], "method": "cam"}}},
    })  # fmt: skip


async def _reply(col: Any, request_id: str) -> Reply:
    def mine() -> list[Any]:
        return [m for m in col.on("/reply/explain") if m.json().get("request_id") == request_id]

    await col.wait_for(lambda: bool(mine()), timeout=60)
    return Reply.model_validate_json(mine()[-1].payload)


async def test_node_explains_events_and_answers_the_command(
    shared_data: SharedData, tmp_path: Path, mosquitto: MosquittoBroker, collector_factory: Any
) -> None:
    col = await collector_factory(mosquitto.host, mosquitto.port, ["citywatch/ex1/#"])
    cfg = _config(mosquitto.port, tmp_path, shared_data.path(FIRE_IMAGES))
    async with Node(cfg):
        # the `new` fire event's configured explanation (CAM) arrives on explain/report
        await col.wait_for(lambda: any(m.json().get("event_id") for m in
                                       col.on("/explain/report")), timeout=90)  # fmt: skip
        auto = ExplainReport.model_validate_json(
            next(m for m in col.on("/explain/report") if m.json().get("event_id")).payload
        )
        assert (auto.method, auto.model, auto.camera) == ("cam", "fire", "cam1")
        fires = [m.json() for m in col.on("/events/fire") if m.json()["lifecycle"] == "new"]
        assert auto.event_id in {e["event_id"] for e in fires}
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as user:
            ask = {"request_id": "by-id", "params": {"event_id": auto.event_id,
                                                     "method": "occlusion", "budget": 40}}
            await user.publish("citywatch/ex1/cmd/explain", json.dumps(ask), qos=1)
            by_id = await _reply(col, "by-id")
            ask = {"request_id": "latest", "params": {"camera": "cam1", "model": "fire",
                                                      "method": "gradcam"}}
            await user.publish("citywatch/ex1/cmd/explain", json.dumps(ask), qos=1)
            latest = await _reply(col, "latest")
            ask = {"request_id": "gone", "params": {"event_id": "nope", "method": "rise"}}
            await user.publish("citywatch/ex1/cmd/explain", json.dumps(ask), qos=1)
            gone = await _reply(col, "gone")
    assert by_id.ok, by_id.message
    assert by_id.data is not None
    report = ExplainReport.model_validate(by_id.data)
    assert (report.event_id, report.method, report.target) == (auto.event_id, "occlusion", "fire")
    assert report.topic == "citywatch/ex1/explain/image"
    assert latest.ok and latest.data is not None and latest.data["method"] == "gradcam"
    assert (gone.ok, gone.code and gone.code.value) == (False, "not_found")
    jpeg = col.on("/explain/image")[-1].payload
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
