"""How ``Node`` wires the parts: gate, gated factories, HA gate sensor, snapshots, protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from node.analytics.objects import build as build_objects
from node.analytics.registry import BuildContext
from node.app import Node
from node.config import load_config
from node.homeassistant.discovery import DiscoverySpec, build_discovery
from schemas.config import NodeConfig
from tests.conftest import MosquittoBroker, SharedData
from tests.runtime.conftest import node_yaml

pytestmark = [pytest.mark.broker]


def _config(**gate: Any) -> NodeConfig:
    return NodeConfig.model_validate(
        {
            "node_id": "n1",
            "cameras": [{"name": "a", "source": "a.mp4"}, {"name": "b", "source": "b.mp4"}],
            "gate": gate,
        }
    )


def _render(template: str, payload: str) -> str:
    ctx: dict[str, Any] = {"value": payload}
    with contextlib.suppress(ValueError):
        ctx["value_json"] = json.loads(payload)
    return ImmutableSandboxedEnvironment().from_string(template).render(ctx)


def test_gate_sensor_only_when_the_gate_enforces() -> None:
    open_mode = build_discovery(DiscoverySpec.from_config(_config(mode="open")))
    assert not [k for k in open_mode.cmps if k.startswith("gate")]
    node = build_discovery(DiscoverySpec.from_config(_config(mode="face")))
    gate = node.cmps["gate"].model_dump(exclude_none=True)
    assert gate["state_topic"] == "citywatch/n1/state/gate"
    assert gate["device_class"] == "lock"  # HA: ON = unlocked
    tpl = gate["value_template"]
    assert _render(tpl, '{"state": "open", "mode": "face", "scope": "node"}') == "ON"
    assert _render(tpl, '{"state": "locked", "mode": "face", "scope": "node"}') == "OFF"
    per_cam = build_discovery(DiscoverySpec.from_config(_config(mode="face", scope="camera")))
    topics = {k: c.model_dump().get("state_topic") for k, c in per_cam.cmps.items()}
    assert topics["gate_a"] == "citywatch/n1/state/gate/a"
    assert topics["gate_b"] == "citywatch/n1/state/gate/b"


class _Loader:
    """Build-time stand-in: the objects builder only asks for a handle."""

    def load(self, name: str, analytic: str | None = None) -> object:
        return object()


@pytest.mark.parametrize(("mode", "gated"), [("open", False), ("face", True)])
def test_objects_factory_is_gated_in_face_mode(mode: str, gated: bool, tmp_path: Path) -> None:
    cfg = _config(mode=mode)
    factory = build_objects(cfg, BuildContext("n1", tmp_path, models=_Loader()))
    assert factory.gated is gated


async def test_gate_changes_become_events_and_retained_state(
    tmp_path: Path, mosquitto: MosquittoBroker, collector_factory: Any
) -> None:
    col = await collector_factory(
        mosquitto.host, mosquitto.port, ["citywatch/t1/events/#", "citywatch/t1/state/gate"]
    )
    path = node_yaml(tmp_path / "n.yaml", port=mosquitto.port, data_dir=tmp_path / "d")
    raw = json.loads(path.read_text())
    raw["gate"] = {"mode": "face", "frames": 2, "ttl_s": 0.5}
    path.write_text(json.dumps(raw))
    async with Node(load_config(path)) as node:
        await col.wait_for(lambda: bool(col.on("/state/gate")))
        assert col.on("/state/gate")[-1].json()["state"] == "locked"
        node.gate.report("cam1", {"alice"})
        assert not node.gate.is_open("cam1")  # one frame is not enough
        node.gate.report("cam1", {"alice"})
        assert node.gate.is_open("cam1")
        await col.wait_for(lambda: bool(col.on("/events/gate.opened")))
        # Any of them: with a short ttl the session may be closed again by the time we look.
        await col.wait_for(lambda: "open" in [m.json()["state"] for m in col.on("/state/gate")])
        # Nobody reports any more: the node's ticker closes the session after ttl_s.
        await col.wait_for(lambda: bool(col.on("/events/gate.closed")), timeout=10)
        await col.wait_for(lambda: col.on("/state/gate")[-1].json()["state"] == "locked")
    opened = col.on("/events/gate.opened")[0].json()
    closed = col.on("/events/gate.closed")[0].json()
    assert opened["lifecycle"] == "new" and closed["lifecycle"] == "end"
    assert opened["track_id"] == closed["track_id"]
    assert closed["attributes"]["reason"] == "expired" and opened["attributes"]["by"] == "alice"


@pytest.mark.parametrize(("protocol", "expected"), [("auto", "5"), ("3.1.1", "3.1.1")])
async def test_mqtt_protocol_reaches_the_link(
    protocol: str, expected: str, tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    path = node_yaml(tmp_path / "n.yaml", port=mosquitto.port, data_dir=tmp_path / "d")
    raw = json.loads(path.read_text())
    raw["mqtt"]["protocol"] = protocol
    path.write_text(json.dumps(raw))
    async with Node(load_config(path)) as node:
        assert node.link is not None
        await asyncio.wait_for(node.link.connected.wait(), 10)
        assert node.link.protocol == expected
        assert node.stats().mqtt is not None and node.stats().mqtt.protocol == expected


@pytest.mark.shared_data
@pytest.mark.slow
async def test_face_commands_read_frames_from_the_pipelines(
    shared_data: SharedData,
    tmp_path: Path,
    mosquitto: MosquittoBroker,
    collector_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the faces analytic on, `face_*` commands are registered and `face_enroll` from a
    camera analyses that camera's live frames (pedestrians.mp4 has no enrollable face)."""
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    col = await collector_factory(mosquitto.host, mosquitto.port, ["citywatch/t1/reply/#"])
    path = node_yaml(
        tmp_path / "n.yaml",
        port=mosquitto.port,
        data_dir=tmp_path / "d",
        source=str(shared_data.path("datasets/videos/pedestrians.mp4")),
    )
    raw = json.loads(path.read_text())
    raw["analytics"] = {"faces": {"enabled": True, "fps": 2}}
    raw["models"] = {"store_dir": str(tmp_path / "models")}
    raw["gate"] = {"mode": "face"}
    path.write_text(json.dumps(raw))
    async with Node(load_config(path)) as node:
        assert node.dispatcher is not None and "face_enroll" in node.dispatcher.names
        assert node.link is not None
        await asyncio.wait_for(node.link.connected.wait(), 10)
        envelope = {"request_id": "e1", "params": {"name": "bob", "camera": "cam1", "seconds": 1}}
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            await client.publish("citywatch/t1/cmd/face_enroll", json.dumps(envelope), qos=1)
        await col.wait_for(lambda: bool(col.on("/reply/face_enroll")), timeout=20)
    reply = col.on("/reply/face_enroll")[-1].json()
    assert reply["ok"] is False and reply["code"] == "no_face"
    assert "'no_face'" in reply["message"]  # frames were taken from cam1 and analysed
