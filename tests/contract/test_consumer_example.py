"""``examples/consumer.py`` as a user runs it (its own process) against a real Mosquitto: it
prints the typed fields of every event type, drops a repeated ``event_id``, reads a newer 1.x
event and a type it does not know, and refuses a 2.0 event without stopping."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import aiomqtt
import pytest

from tests.conftest import REPO, MosquittoBroker
from tests.contract.recorded import recorded_events

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]
BASE = "citywatch/crossing-7"


def _event(event_type: str, *, label: str | None = None) -> dict[str, Any]:
    rec = next(r.payload for r in recorded_events() if r.payload["type"] == event_type
               and (label is None or r.payload["label"] == label))
    return {**json.loads(json.dumps(rec)), "node_id": "crossing-7"}


async def _read_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert line, "the consumer exited early"
    return line.decode().rstrip("\n")


async def test_consumer_prints_typed_fields_dedups_and_refuses_2_0(
    mosquitto: MosquittoBroker,
) -> None:
    face = _event("face.recognized")
    newer = {**_event("object"), "schema_version": "1.4", "seq": 9}
    newer["attributes"] = {**newer["attributes"], "speed_kmh": 4.5}
    unknown = {**_event("object"), "schema_version": "1.2", "type": "queue.length",
               "event_id": "f" * 32,
               "attributes": {"queue": "tickets", "wait_s": 95.0}}
    events = [
        face, face,  # delivered twice (a PUBACK lost with the connection)
        _event("face.unknown"), _event("fire"), _event("movement", label="fall"),
        _event("movement.identified"), _event("gate.opened"), _event("synthetic"),
        _event("zone.loitering"), _event("notification.failed"),
        {**_event("smoke"), "schema_version": "2.0"},
        newer, unknown,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "examples" / "consumer.py"), "--port", str(mosquitto.port),
        "--node", "crossing-7", "--count", "11",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )
    try:
        assert (await _read_line(proc)).startswith(f"subscribed to {BASE}/events/+")
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            for e in events:
                await client.publish(f"{BASE}/events/{e['type']}", json.dumps(e), qos=1)
            # a snapshot JPEG under events/<type>/ is not an event: the filter never sees it
            await client.publish(f"{BASE}/events/fire/snapshot", b"\xff\xd8\xff", qos=1)
        lines: list[str] = []
        for _ in range(13):
            try:
                lines.append(await _read_line(proc))
            except TimeoutError:
                raise AssertionError(f"after {lines}") from None
        assert await asyncio.wait_for(proc.wait(), 20) == 0, lines
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    who = face["attributes"]
    assert lines[0].endswith(f"identity={who['identity']} similarity={who['similarity']:.2f} "
                             f"authorised={'yes' if who['authorised'] else 'no'}")
    assert "face.unknown/face" in lines[1] and "unknown face, best similarity=" in lines[1]
    assert "fire/fire" in lines[2] and "k_of_n=" in lines[2]
    assert "movement/fall new" in lines[3] and "action=fall" in lines[3]
    assert "movement.identified/" in lines[4] and "unknown_faces=" in lines[4]
    assert "gate.opened/gate new" in lines[5] and "by=" in lines[5]
    assert "synthetic/synthetic" in lines[6] and "sequence=" in lines[6]
    assert "zone.loitering/" in lines[7] and "dwell=" in lines[7]
    assert "notification.failed/" in lines[8] and "target=" in lines[8]
    assert lines[9].startswith(f"refused on {BASE}/events/smoke: ")
    assert "schema_version '2.0' cannot be read here" in lines[9]
    assert "object/person" in lines[10] and lines[10].endswith(
        "(newer fields: seq, attributes.speed_kmh)")
    assert "queue.length/person" in lines[11] and "untyped queue=tickets wait_s=95.0" in lines[11]
    assert lines[12] == "11 event(s), 1 repeat(s) dropped"
