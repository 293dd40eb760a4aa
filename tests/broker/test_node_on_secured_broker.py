"""The real node on the production broker setup (``broker/acl`` + credentials from the script):
its events validate against the schema it publishes, a stranger's commands never reach it, and a
SIGKILL reads ``offline`` within 1.5x the keepalive."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.broker.conftest import SecuredBroker
from tests.broker.mqtt_helpers import client
from tests.conftest import SharedData

pytestmark = [pytest.mark.broker, pytest.mark.shared_data, pytest.mark.slow]

KEEPALIVE = 5


@pytest.fixture
def node_proc(
    secured_broker: SecuredBroker, shared_data: SharedData, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    config = {
        "node_id": "n1",
        "data_dir": str(tmp_path / "data"),
        "stats_interval_s": 1.0,
        # username = node_id: what broker/create-node-credentials.sh creates and the ACL expects
        "mqtt": {"host": "127.0.0.1", "port": secured_broker.port, "username": "n1",
                 "keepalive": KEEPALIVE},
        "homeassistant": {"enabled": True},
        "snapshots": {"enabled": False},
        "cameras": [{"name": "cam1", "source": str(shared_data.path(
            "datasets/videos/pedestrians.mp4")), "loop": True, "motion": {"enabled": False}}],
        "analytics": {"synthetic": {"enabled": True, "fps": 25, "every_n_frames": 3,
                                    "end_after_s": 0.3}},
    }
    path = tmp_path / "n1.yaml"
    path.write_text(json.dumps(config))
    env = {"CITYWATCH__MQTT__PASSWORD": secured_broker.passwords["n1"], "PATH": "/usr/bin:/bin"}
    log = (tmp_path / "node.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "node", "run", "--config", str(path)],
        stdout=log, stderr=log, env=env,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


async def test_node_on_production_broker(
    secured_broker: SecuredBroker, node_proc: subprocess.Popen[bytes]
) -> None:
    port, pw = secured_broker.port, secured_broker.passwords
    async with client(port, "homeassistant", pw["homeassistant"]) as (ha, seen):
        await ha.subscribe("citywatch/n1/#", qos=1)
        await seen.wait_for(
            lambda: bool(seen.on("citywatch/n1/schema"))
            and sum("/events/" in m.topic for m in seen.messages) >= 4,
            timeout=40,
        )
        assert seen.on("citywatch/n1/availability")[-1].payload == b"online"
        schema = json.loads(seen.on("citywatch/n1/schema")[-1].payload)["event"]
        events = [m for m in seen.messages if "/events/" in m.topic]
        for m in events:
            jsonschema.validate(json.loads(m.payload), schema)

        # A stranger and another node cannot command n1; the operator can.
        for user in ("visitor", "n2"):
            async with client(port, user, pw[user]) as (other, _):
                await other.publish("citywatch/n1/cmd/ping", b'{"request_id": "from-' +
                                    user.encode() + b'"}', qos=1)
        await ha.publish("citywatch/n1/cmd/ping", b'{"request_id": "from-operator"}', qos=1)
        await seen.wait_for(lambda: bool(seen.on("citywatch/n1/reply/ping")), timeout=15)
        replies = [json.loads(m.payload)["request_id"] for m in seen.on("citywatch/n1/reply/ping")]
        assert replies == ["from-operator"]  # the operator's, sent last, and only that one

        node_proc.kill()
        killed = time.monotonic()
        await seen.wait_for(
            lambda: seen.on("citywatch/n1/availability")[-1].payload == b"offline",
            timeout=3 * KEEPALIVE,
        )
        assert time.monotonic() - killed <= 1.5 * KEEPALIVE + 0.5  # + delivery slack, 2 CPUs
