"""The whole node over a real Mosquitto: faces + objects, ``gate.mode: face``, an image folder.

Before enrollment the camera's face is unknown and objects (gated) never runs; enrolling that
person (authorised) over MQTT opens the gate and objects starts; removing them closes the gate,
the face is unknown again and objects stays stopped.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np
import pytest

from node.app import Node
from node.config import load_config
from tests.conftest import MosquittoBroker, SharedData
from tests.runtime.conftest import Collector, Received, node_yaml

pytestmark = [pytest.mark.broker, pytest.mark.shared_data, pytest.mark.slow,
              pytest.mark.timeout(120)]
PERSON = "jerry_seinfeld"
BASE = "citywatch/t1"


@pytest.fixture
async def collectors() -> AsyncIterator[Callable[..., Any]]:
    """Like ``tests/runtime``'s ``collectors`` (conftests do not cross folders)."""
    made: list[Collector] = []

    async def make(host: str, port: int, filters: list[str]) -> Collector:
        c = Collector(host, port, filters)
        await c.start()
        made.append(c)
        return c

    yield make
    for c in made:
        await c.stop()


def _objects_runs(col: Collector) -> int:
    """``objects`` runs on cam1 according to the latest ``stats`` message (-1: none yet)."""
    stats = col.on("/stats")
    if not stats:
        return -1
    analytics = stats[-1].json()["cameras"]["cam1"]["analytics"]
    return int(analytics["objects"]["runs"]) if "objects" in analytics else 0


def _events(col: Collector, kind: str, after: int = 0) -> list[dict[str, Any]]:
    return [m.json() for m in col.messages[after:] if m.topic == f"{BASE}/events/{kind}"]


def _gate_states(msgs: list[Received]) -> list[str]:
    return [m.json()["state"] for m in msgs if m.topic == f"{BASE}/state/gate"]


async def _command(client: aiomqtt.Client, col: Collector, name: str,
                   params: dict[str, Any]) -> dict[str, Any]:
    rid = uuid.uuid4().hex
    await client.publish(f"{BASE}/cmd/{name}",
                         json.dumps({"request_id": rid, "params": params}), qos=1)

    def replies() -> list[dict[str, Any]]:
        return [b for b in (m.json() for m in col.on(f"/reply/{name}"))
                if b.get("request_id") == rid]

    await col.wait_for(lambda: bool(replies()), timeout=20)
    return replies()[0]


def _video_of(images: list[Path], path: Path, fps: int = 10, seconds: int = 20) -> Path:
    """The camera: the person's photos as a paced video (looped by the node). Not an image
    folder: a folder is read unpaced and every loop reopens it, which resets the face tracks
    before they collect their votes."""
    frames = [np.asarray(cv2.imread(str(p), cv2.IMREAD_COLOR), np.uint8) for p in images]
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for i in range(fps * seconds):
        writer.write(cv2.resize(frames[i * len(frames) // (fps * seconds)], (w, h)))
    writer.release()
    return path


async def _wait(col: Collector, pred: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """``col.wait_for`` that says what did not happen, with the node's last stats and status."""
    try:
        await col.wait_for(pred, timeout)
    except TimeoutError:
        last = [m.payload.decode()[:1500] for m in col.on("/stats")[-1:] + col.on("/status")[-1:]]
        pytest.fail(f"no {what} within {timeout} s; last stats/status: {last}")


def _config(tmp_path: Path, port: int, camera: Path) -> Path:
    path = node_yaml(tmp_path / "n.yaml", port=port, data_dir=tmp_path / "d", source=str(camera))
    raw = json.loads(path.read_text())
    raw["analytics"] = {"faces": {"enabled": True, "fps": 5},
                        "objects": {"enabled": True, "fps": 2}}
    raw["models"] = {"store_dir": str(tmp_path / "models")}
    raw["gate"] = {"mode": "face", "frames": 2, "ttl_s": 60}
    path.write_text(json.dumps(raw))
    return path


async def test_node_enroll_opens_gate_starts_objects_remove_locks_it(
    shared_data: SharedData,
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    collectors: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    celeb5 = shared_data.path("datasets/faces/celeb5")
    camera = _video_of(sorted((celeb5 / "test" / PERSON).iterdir()), tmp_path / "camera.avi")
    enroll_images = sorted((celeb5 / "train" / PERSON).iterdir())[:5]
    col = await collectors(mosquitto.host, mosquitto.port, [f"{BASE}/#"])

    async with Node(load_config(_config(tmp_path, mosquitto.port, camera))) as node, \
            aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        assert node.link is not None
        # (a) locked: the face is unknown, and objects is not run while stats keep coming.
        await _wait(col, lambda: bool(_events(col, "face.unknown")), "face.unknown", 30)
        n_stats = len(col.on("/stats"))
        await col.wait_for(lambda: len(col.on("/stats")) >= n_stats + 2)
        assert _objects_runs(col) == 0
        assert not _events(col, "face.recognized") and not _events(col, "gate.opened")
        assert _gate_states(col.messages)[-1] == "locked"

        # (b) enroll as authorised over MQTT: recognised, gate opens, objects starts.
        images = [base64.b64encode(p.read_bytes()).decode() for p in enroll_images]
        reply = await _command(client, col, "face_enroll",
                               {"name": "jerry", "images": images, "authorised": True})
        assert reply["ok"], reply
        await _wait(col, lambda: bool(_events(col, "gate.opened")), "gate.opened")
        rec = _events(col, "face.recognized")
        assert rec and rec[0]["attributes"]["identity"] == "jerry"
        assert rec[0]["attributes"]["authorised"] is True
        assert _events(col, "gate.opened")[0]["attributes"]["by"] == "jerry"
        await col.wait_for(lambda: "open" in _gate_states(col.messages))
        await _wait(col, lambda: _objects_runs(col) > 0, "objects run")

        # (c) remove: gate closes (revoked), the face is unknown again, objects stays stopped.
        mark = len(col.messages)
        reply = await _command(client, col, "face_remove", {"name": "jerry"})
        assert reply["ok"], reply
        await _wait(col, lambda: bool(_events(col, "gate.closed", mark)), "gate.closed", 10)
        assert _events(col, "gate.closed", mark)[0]["attributes"]["reason"] == "revoked"
        await col.wait_for(lambda: _gate_states(col.messages[mark:])[-1:] == ["locked"])
        await _wait(col, lambda: bool(_events(col, "face.unknown", mark)), "unknown after remove")
        n_stats = len(col.on("/stats"))
        await col.wait_for(lambda: len(col.on("/stats")) >= n_stats + 1)
        runs_after_close = _objects_runs(col)  # a run already in flight may still count
        await col.wait_for(lambda: len(col.on("/stats")) >= n_stats + 3)
        assert _objects_runs(col) == runs_after_close
        assert not _events(col, "gate.opened", mark)
        assert not [e for e in _events(col, "face.recognized", mark)
                    if e["lifecycle"] == "new"]
        assert _gate_states(col.messages[mark:])[-1] == "locked"

    # The retained gate state a late subscriber reads is "locked".
    late = await collectors(mosquitto.host, mosquitto.port, [f"{BASE}/state/gate"])
    await late.wait_for(lambda: bool(late.messages))
    assert late.messages[-1].retain and late.messages[-1].json()["state"] == "locked"
