"""End to end over a real Mosquitto: ``citywatch run --analytics objects`` on pedestrians.mp4.

First start with an empty model store: the node pulls YOLOX-nano from the mirror (the shared
models folder), detects and tracks people, publishes ``object`` events new → end through the
outbox, snapshots beside them, stats with per-camera fps and inference time; answers ``ping``;
the ``set`` command turns the analytic off and the retained switch state follows.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from schemas.events import Event
from schemas.status import CameraStatus, NodeStats
from tests.conftest import MosquittoBroker, SharedData
from tests.runtime.conftest import Received, citywatch_cmd, node_env, poll_until

pytestmark = [pytest.mark.broker, pytest.mark.shared_data, pytest.mark.slow]

VIDEO = "datasets/videos/pedestrians.mp4"
BASE = "citywatch/it"


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(citywatch_cmd(*args), stdout=out, stderr=out, env=env)


def _events(col: Any) -> list[Event]:
    # `events/<type>/snapshot[/crop]` carry JPEGs: only the event topics themselves are JSON.
    return [
        Event.model_validate_json(m.payload)
        for m in col.messages
        if m.topic.startswith(f"{BASE}/events/") and m.topic.count("/") == 3
    ]


def _person_tracks_ended(col: Any) -> list[str]:
    """Track ids of person objects seen with `new` and, later, `end`."""
    new: set[str] = set()
    ended: list[str] = []
    for e in _events(col):
        if e.type != "object" or e.label != "person":
            continue
        if e.lifecycle.value == "new":
            new.add(e.track_id)
        elif e.lifecycle.value == "end" and e.track_id in new:
            ended.append(e.track_id)
    return ended


def _objects_stats(col: Any) -> NodeStats | None:
    for m in reversed(col.on("/stats")):
        stats = NodeStats.model_validate_json(m.payload)
        cam = stats.cameras.get("pedestrians")
        if cam is not None and cam.fps > 0 and cam.inference_ms.get("objects"):
            return stats
    return None


async def _command(port: int, name: str, params: dict[str, Any], request_id: str) -> None:
    envelope = {"request_id": request_id, "params": params}
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.publish(f"{BASE}/cmd/{name}", json.dumps(envelope), qos=1)


def _reply(col: Any, name: str, request_id: str) -> dict[str, Any] | None:
    for m in col.on(f"/reply/{name}"):
        body: dict[str, Any] = m.json()
        if body.get("request_id") == request_id:
            return body
    return None


async def test_objects_on_pedestrians_end_to_end(
    shared_data: SharedData,
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    collector_factory: Any,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    store = tmp_path / "models"
    cfg = tmp_path / "node.yaml"
    cfg.write_text(
        json.dumps(
            {
                "node_id": "it",
                "data_dir": str(tmp_path / "data"),
                "stats_interval_s": 1.0,
                "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "keepalive": 5},
                "homeassistant": {"enabled": False},
                "models": {"store_dir": str(store)},
            }
        )
    )
    col = await collector_factory(mosquitto.host, mosquitto.port, [f"{BASE}/#"])
    env = node_env() | {"CITYWATCH_MODEL_MIRROR": str(shared_data.path("models"))}
    log = tmp_path / "node.log"
    args = ["run", "--config", str(cfg), "--source", str(shared_data.path(VIDEO))]
    p = _spawn([*args, "--loop", "--analytics", "objects"], log, env)
    procs.append(p)

    def alive() -> bool:
        if p.poll() is not None:
            pytest.fail(f"node exited ({p.returncode}):\n{log.read_text()[-3000:]}")
        return True

    # The first start pulled the model into the empty store, and said so.
    await poll_until(lambda: alive() and "mosquitto_sub" in log.read_text(), 30)
    assert "yolox_nano is not in" in log.read_text() and (store / "yolox_nano.onnx").is_file()

    await col.wait_for(lambda: alive() and bool(_person_tracks_ended(col)), timeout=25)
    ended = _person_tracks_ended(col)[0]
    life = [e for e in _events(col) if e.track_id == ended]
    assert life[0].lifecycle.value == "new" and life[-1].lifecycle.value == "end"
    assert life[0].box is not None and life[0].model and life[0].model.startswith("yolox_nano")
    assert life[0].has_snapshot  # rendered before the event was stored ...
    shots = col.on("/pedestrians/snapshot")
    assert shots and shots[0].payload[:2] == b"\xff\xd8"  # ... and published: a JPEG
    # Retained per event type (HA `image` entities): a subscriber arriving now gets one.
    snap = await collector_factory(mosquitto.host, mosquitto.port, [f"{BASE}/events/+/snapshot"])
    await snap.wait_for(lambda: bool(snap.messages))
    assert snap.messages[0].retain and snap.messages[0].payload[:2] == b"\xff\xd8"

    await col.wait_for(lambda: alive() and _objects_stats(col) is not None, timeout=10)
    stats = _objects_stats(col)
    assert stats is not None and stats.mqtt is not None and stats.mqtt.connected
    cam = stats.cameras["pedestrians"]
    assert cam.frames_analysed > 0 and cam.analytics_enabled == {"objects": True}
    status = CameraStatus.model_validate_json(col.on("/pedestrians/status")[-1].payload)
    assert status.state == "online"

    await _command(mosquitto.port, "ping", {}, "p1")
    await col.wait_for(lambda: alive() and _reply(col, "ping", "p1") is not None, timeout=10)
    pong = _reply(col, "ping", "p1")
    assert pong is not None and pong["ok"] and pong["data"]["node_id"] == "it"

    state_topic = "/state/analytic/objects"
    assert col.on(state_topic)[-1].payload == b"ON"
    off = {"target": "analytic", "name": "objects", "enabled": False}
    await _command(mosquitto.port, "set", off, "s1")
    await col.wait_for(lambda: alive() and _reply(col, "set", "s1") is not None, timeout=10)
    reply = _reply(col, "set", "s1")
    assert reply is not None and reply["ok"], reply
    await col.wait_for(lambda: col.on(state_topic)[-1].payload == b"OFF", timeout=10)
    # Retained: a subscriber arriving now reads OFF.
    late = await collector_factory(mosquitto.host, mosquitto.port, [f"{BASE}{state_topic}"])
    await late.wait_for(lambda: bool(late.messages))
    first: Received = late.messages[0]
    assert first.retain and first.payload == b"OFF"
    # The stats say so too.
    n = len(col.on("/stats"))
    await col.wait_for(lambda: len(col.on("/stats")) > n + 1, timeout=10)
    last = NodeStats.model_validate_json(col.on("/stats")[-1].payload)
    assert last.cameras["pedestrians"].analytics_enabled == {"objects": False}
    assert last.commands.get("ok", 0) >= 2

    p.terminate()
    assert p.wait(timeout=20) == 0
