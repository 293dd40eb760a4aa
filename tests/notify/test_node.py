"""Notifications in a running node: events from the synthetic analytic on an image folder,
through the sink's transaction, to a real webhook; failures as events; a SIGKILLed node."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from node.app import Node
from node.config import parse_config
from node.homeassistant import DiscoverySpec, build_discovery
from tests.conftest import MosquittoBroker, free_port
from tests.notify.harness import until
from tests.notify.servers import WebhookServer
from tests.runtime.conftest import Collector, citywatch_cmd, node_env

pytestmark = [pytest.mark.broker]


def frames(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.jpg"), rng.integers(0, 255, (96, 128, 3), np.uint8))
    return folder


def node_config(
    tmp_path: Path, hook_url: str, mqtt_port: int, *, embedded: bool = False,
    retry: dict[str, Any] | None = None, per_rule_s: float = 3600.0,
) -> dict[str, Any]:
    mqtt: dict[str, Any] = {"port": mqtt_port, "reconnect_initial_s": 0.2, "reconnect_max_s": 1}
    if not embedded:
        mqtt["host"] = "127.0.0.1"
    return {
        "node_id": "n1",
        "data_dir": str(tmp_path / "data"),
        "stats_interval_s": 0.5,
        "mqtt": mqtt,
        "broker": {"port": mqtt_port},
        "homeassistant": {"enabled": False},
        "cameras": [{"name": "cam1", "source": str(frames(tmp_path / "frames")), "loop": True,
                     "read_fps": 10, "motion": {"enabled": False}}],
        "analytics": {"synthetic": {"enabled": True, "fps": 10, "every_n_frames": 5,
                                    "end_after_s": 0.3}},
        "notifications": {
            "timezone": "UTC",
            "targets": {"hook": {"url": hook_url}},
            "rules": {"syn": {"types": ["synthetic"], "targets": ["hook"], "title": "{type}",
                              "body": "{event_id}", "cooldown": {"per_rule_s": per_rule_s}}},
            "retry": retry or {"initial_delay_s": 0.1, "jitter": 0.0},
        },
    }


async def test_node_sends_the_event_with_its_snapshot(
    tmp_path: Path, mosquitto: MosquittoBroker, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory()
    col = Collector(mosquitto.host, mosquitto.port, ["citywatch/n1/events/synthetic"])
    await col.start()
    config = parse_config(node_config(tmp_path, hook.url(), mosquitto.port))
    try:
        async with Node(config) as node:
            await asyncio.to_thread(hook.wait_for, 1)
            def sent() -> int:
                n = node.stats().notifications
                return n.sent if n is not None else 0

            await until(lambda: sent() == 1)
            stats = node.stats().notifications
            event_id = hook.requests[0].json()["message"]
            await col.wait_for(lambda: any(m.json()["event_id"] == event_id
                                           for m in col.messages))
    finally:
        await col.stop()
    assert stats is not None and stats.rules["syn"].sent == 1
    payload = hook.requests[0].json()
    assert payload["title"] == "synthetic"
    (image,) = payload["attachments"]
    jpeg = base64.b64decode(image["base64"])
    assert jpeg[:2] == b"\xff\xd8"  # the event's snapshot, rendered by the sink
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (96, 128)


async def test_given_up_notification_is_an_event_and_a_stat(
    tmp_path: Path, mosquitto: MosquittoBroker, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory(then=500)
    col = Collector(mosquitto.host, mosquitto.port, ["citywatch/n1/events/#",
                                                     "citywatch/n1/stats"])
    await col.start()
    cfg = node_config(tmp_path, hook.url(), mosquitto.port,
                      retry={"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0.0})
    try:
        async with Node(parse_config(cfg)):
            await col.wait_for(lambda: bool(col.on("events/notification.failed")))
            await col.wait_for(lambda: any(
                (m.json().get("notifications") or {}).get("failed") == 1
                for m in col.on("/stats")))
            # The target that is down stops no event: they keep coming.
            seen = len(col.on("events/synthetic"))
            await col.wait_for(lambda: len(col.on("events/synthetic")) > seen + 2)
    finally:
        await col.stop()
    failed = col.on("events/notification.failed")[0].json()
    assert failed["camera"] == "cam1" and failed["label"] == "syn"
    assert failed["attributes"]["target"] == "hook" and failed["attributes"]["attempts"] == 2
    assert "500" in failed["attributes"]["error"]
    assert len(hook.requests) == 2


def test_home_assistant_gets_a_failures_sensor() -> None:
    base = {"node_id": "n1", "cameras": [{"name": "cam1", "source": "a.mp4"}]}
    plain = build_discovery(DiscoverySpec.from_config(parse_config(base, environ={})))
    assert "notification_failures" not in plain.cmps
    with_rules = {**base, "notifications": {
        "targets": {"hook": {"url": "json://127.0.0.1/x"}},
        "rules": {"r": {"targets": ["hook"]}}}}
    disc = build_discovery(DiscoverySpec.from_config(parse_config(with_rules, environ={})))
    sensor = disc.cmps["notification_failures"].model_dump(exclude_none=True)
    assert sensor["state_topic"] == "citywatch/n1/stats"
    assert "notifications" in sensor["value_template"] and "failed" in sensor["value_template"]
    event = disc.cmps["event_notification_failed"].model_dump(exclude_none=True)
    assert event["state_topic"] == "citywatch/n1/events/notification.failed"


def _job(db: Path, event_id: str) -> tuple[str, int] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT state, attempts FROM notify_job WHERE event_id = ?",
                           (event_id,)).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


@pytest.mark.slow
async def test_node_sigkilled_between_retries_delivers_once_after_restart(
    tmp_path: Path, webhook_factory: Callable[..., WebhookServer]
) -> None:
    hook = webhook_factory(script=[500])
    port = free_port()
    # The retry waits 4 s: the kill lands between the first attempt and the second.
    cfg = node_config(tmp_path, hook.url(), port, embedded=True,
                      retry={"initial_delay_s": 4.0, "jitter": 0.0})
    path = tmp_path / "node.yaml"
    path.write_text(json.dumps(cfg))
    db = tmp_path / "data" / "outbox.sqlite"

    procs: list[subprocess.Popen[bytes]] = []

    def spawn(log: str) -> subprocess.Popen[bytes]:
        with (tmp_path / log).open("ab") as out:
            p = subprocess.Popen(citywatch_cmd("run", "-c", str(path)), stdout=out,
                                 stderr=out, env=node_env())
        procs.append(p)
        return p

    try:
        node = spawn("node1.log")
        await asyncio.to_thread(hook.wait_for, 1, 60.0)
        first = hook.requests[0].json()["message"]
        await until(lambda: _job(db, first) == ("queued", 1), 10)  # the retry is scheduled
        node.kill()  # SIGKILL: no shutdown, no flush
        node.wait()
        assert [r.status for r in hook.requests] == [500]
        spawn("node2.log")
        await asyncio.to_thread(
            hook.wait_until,
            lambda: any(r.json()["message"] == first and r.status == 200
                        for r in hook.requests),
            60.0,
        )
        await until(lambda: _job(db, first) == ("sent", 2), 10)
        await asyncio.sleep(1.0)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [r.status for r in hook.requests if r.json()["message"] == first] == [500, 200]
