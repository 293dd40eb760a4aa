"""The node end to end: quick start, published schema, last will, outages, restarts."""

from __future__ import annotations

import asyncio
import json
import shlex
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from node.app import Node
from node.config import load_config
from schemas.export import all_schemas
from schemas.status import CameraStatus, NodeStats
from tests.conftest import MosquittoBroker, SharedData, free_port
from tests.runtime.conftest import citywatch_cmd, node_env, node_yaml, poll_until

pytestmark = [pytest.mark.broker, pytest.mark.shared_data, pytest.mark.slow]

VIDEO = "datasets/videos/pedestrians.mp4"


def _spawn(
    procs: list[subprocess.Popen[bytes]], args: list[str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        p = subprocess.Popen(citywatch_cmd(*args), stdout=out, stderr=out, env=node_env())
    procs.append(p)
    return p


def _event_ids(col: Any) -> list[str]:
    return [m.json()["event_id"] for m in col.messages if "/events/" in m.topic]


def _first_occurrences(ids: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in ids:
        seen.setdefault(i, None)
    return list(seen)


def readme_quick_start() -> list[str]:
    """The `citywatch run ...` line of the README's quick start, as arguments."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [ln.strip() for ln in section.strip().splitlines()]
    assert len(lines) == 2 and lines[0].startswith("pip install"), lines
    args = shlex.split(lines[1])
    assert args[:2] == ["citywatch", "run"], args
    return args[1:]


async def test_quick_start_embedded_broker(
    shared_data: SharedData,
    tmp_path: Path,
    procs: Any,
    collector_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's quick-start command (plus a free port and a temporary data dir): online,
    stats, the retained schema, and person events from the objects analytic."""
    port = free_port()
    args = [a.replace("../shared", str(shared_data.root)) for a in readme_quick_start()]
    # Offline here: the registry pulls from the shared folder instead of the pinned URLs.
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    monkeypatch.setenv("CITYWATCH__MODELS__STORE_DIR", str(tmp_path / "store"))
    p = _spawn(
        procs,
        [*args, "--mqtt-port", str(port), "--data-dir", str(tmp_path / "data")],
        tmp_path / "node.log",
    )
    col = await _connect_when_up(collector_factory, port, ["citywatch/citywatch/#"], p, tmp_path)
    await col.wait_for(lambda: bool(col.on("/stats") and col.on("/schema")), timeout=60)
    assert col.on("/availability")[-1].payload == b"online"
    late = await collector_factory("127.0.0.1", port, ["citywatch/citywatch/schema"], v311=True)
    await late.wait_for(lambda: bool(late.messages))
    assert late.messages[0].retain  # a subscriber arriving later still gets the schema
    assert col.on("/schema")[-1].json() == json.loads(json.dumps(all_schemas()))
    stats = col.on("/stats")[-1].json()
    assert {"cameras", "inference_ms", "outbox", "mqtt"} <= stats.keys()
    assert "pedestrians" in stats["cameras"]
    assert stats["analytics_failed"] == {}
    await col.wait_for(lambda: bool(col.on("/events/object")), timeout=60)
    NodeStats.model_validate(stats)  # the published contract, not just some JSON
    await col.wait_for(lambda: bool(col.on("/pedestrians/status")))
    status = CameraStatus.model_validate_json(col.on("/pedestrians/status")[-1].payload)
    assert status.state == "online" and status.camera == "pedestrians"
    p.terminate()
    assert p.wait(timeout=20) == 0
    out = (tmp_path / "node.log").read_text()
    assert f"127.0.0.1:{port}" in out and "mosquitto_sub" in out


async def _connect_when_up(factory: Any, port: int, filters: list[str], p: Any, tmp: Path) -> Any:
    # Wait for the banner (printed once the broker listens) rather than probing the port: a
    # client probing a free ephemeral port on loopback can end up connected to itself.
    log = tmp / "node.log"
    await poll_until(lambda: "mosquitto_sub" in log.read_text() or p.poll() is not None, 30)
    if p.poll() is not None:
        pytest.fail("node did not come up:\n" + log.read_text())
    return await factory("127.0.0.1", port, filters, v311=True)


async def test_events_validate_against_published_schema(
    shared_data: SharedData, tmp_path: Path, mosquitto: MosquittoBroker, collector_factory: Any
) -> None:
    col = await collector_factory(mosquitto.host, mosquitto.port, ["citywatch/t1/#"])
    cfg = load_config(
        node_yaml(
            tmp_path / "n.yaml",
            port=mosquitto.port,
            data_dir=tmp_path / "d",
            source=str(shared_data.path(VIDEO)),
        )
    )
    async with Node(cfg):
        await col.wait_for(lambda: len(_event_ids(col)) >= 6 and bool(col.on("/schema")))
    schema = col.on("/schema")[-1].json()["event"]
    for m in col.messages:
        if "/events/" in m.topic:
            jsonschema.validate(m.json(), schema)


async def test_sigkill_leaves_offline_within_one_and_a_half_keepalive(
    tmp_path: Path, mosquitto: MosquittoBroker, procs: Any, collector_factory: Any
) -> None:
    keepalive = 5
    col = await collector_factory(mosquitto.host, mosquitto.port, ["citywatch/t1/availability"])
    cfg = node_yaml(
        tmp_path / "n.yaml", port=mosquitto.port, data_dir=tmp_path / "d", keepalive=keepalive
    )
    p = _spawn(procs, ["run", "--config", str(cfg)], tmp_path / "node.log")
    await col.wait_for(lambda: bool(col.messages) and col.messages[-1].payload == b"online")
    p.kill()
    killed = time.monotonic()
    await col.wait_for(lambda: col.messages[-1].payload == b"offline", timeout=3 * keepalive)
    assert time.monotonic() - killed <= 1.5 * keepalive + 0.5  # + delivery slack on 2 CPUs


async def test_broker_outage_loses_nothing(
    shared_data: SharedData,
    tmp_path: Path,
    persistent_mosquitto: MosquittoBroker,
    collector_factory: Any,
) -> None:
    """Stop the broker 10 s mid-run: every created event arrives, in order (by event_id)."""
    b = persistent_mosquitto
    col = await collector_factory(b.host, b.port, ["citywatch/t1/events/#"], persistent=True)
    cfg = load_config(
        node_yaml(
            tmp_path / "n.yaml",
            port=b.port,
            data_dir=tmp_path / "d",
            source=str(shared_data.path(VIDEO)),
        )
    )
    created: list[str] = []
    async with Node(cfg) as node:
        assert node.sink is not None and node.link is not None
        real_emit = node.sink.emit

        async def recording_emit(event: Any, frame: Any) -> None:
            await real_emit(event, frame)
            created.append(event.event_id)

        node.sink.emit = recording_emit  # type: ignore[method-assign]
        await poll_until(lambda: len(created) >= 5)
        b.stop()
        n_before = len(created)
        await asyncio.sleep(10)  # the outage itself is what is under test
        assert len(created) > n_before, "no events were created during the outage"
        b.start()
        await poll_until(lambda: node.link is not None and node.link.connected.is_set(), 20)
        await poll_until(lambda: len(created) >= n_before + 20, 20)
        node.pipelines["cam1"].set_camera_enabled(False)  # stop creating; drain what exists
        await asyncio.wait_for(node.outbox.wait_empty(), 30)  # type: ignore[union-attr]
        total = list(created)
    await col.wait_for(lambda: set(total) <= set(_event_ids(col)), timeout=30)
    got = [i for i in _first_occurrences(_event_ids(col)) if i in set(total)]
    assert got == total


async def test_node_killed_while_broker_down_delivers_backlog_after_restart(
    shared_data: SharedData,
    tmp_path: Path,
    persistent_mosquitto: MosquittoBroker,
    procs: Any,
    collector_factory: Any,
) -> None:
    b = persistent_mosquitto
    col = await collector_factory(b.host, b.port, ["citywatch/t1/events/#"], persistent=True)
    data = tmp_path / "d"
    cfg = node_yaml(
        tmp_path / "n.yaml", port=b.port, data_dir=data, source=str(shared_data.path(VIDEO))
    )
    p = _spawn(procs, ["run", "--config", str(cfg)], tmp_path / "node1.log")
    await col.wait_for(lambda: len(_event_ids(col)) >= 5)
    b.stop()
    db = data / "outbox.sqlite"
    await poll_until(lambda: _backlog(db) >= 10, 20)
    p.kill()
    p.wait()
    backlog = _backlog_ids(db)
    delivered_before = _first_occurrences(_event_ids(col))
    b.start()
    # Restart without a camera: the node only has its backlog to deliver.
    cfg2 = node_yaml(tmp_path / "n2.yaml", port=b.port, data_dir=data)
    _spawn(procs, ["run", "--config", str(cfg2)], tmp_path / "node2.log")
    await col.wait_for(lambda: set(backlog) <= set(_event_ids(col)), timeout=30)
    got = _first_occurrences(_event_ids(col))
    assert [i for i in got if i in set(backlog)] == backlog
    assert got[: len(delivered_before)] == delivered_before


def _backlog(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def _backlog_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT payload FROM outbox ORDER BY id").fetchall()
    return [json.loads(r[0])["event_id"] for r in rows]
