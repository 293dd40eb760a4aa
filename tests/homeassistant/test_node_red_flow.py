"""docs/node-red-flow.json is a well-formed Node-RED export that matches our topics and payloads."""

from __future__ import annotations

import json
import re
from typing import Any

from node.mqtt.topics import Topics
from schemas.attributes import FaceRecognizedAttributes
from schemas.commands import CommandEnvelope
from schemas.events import Event, Lifecycle
from tests.conftest import REPO

FLOW = REPO / "docs" / "node-red-flow.json"


def nodes() -> dict[str, dict[str, Any]]:
    data = json.loads(FLOW.read_text())
    assert isinstance(data, list)
    by_id = {n["id"]: n for n in data}
    assert len(by_id) == len(data), "node ids must be unique"
    return by_id


def of_type(t: str) -> list[dict[str, Any]]:
    return [n for n in nodes().values() if n["type"] == t]


def matches(topic_filter: str, topic: str) -> bool:
    f, t = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


def test_wiring_is_consistent() -> None:
    by_id = nodes()
    tabs = {n["id"] for n in by_id.values() if n["type"] == "tab"}
    for n in by_id.values():
        if n["type"] in ("tab", "mqtt-broker"):
            continue
        assert n["z"] in tabs, n["id"]
        for port in n["wires"]:
            for target in port:
                assert target in by_id, f"{n['id']} wired to missing {target}"
        if "broker" in n:
            assert by_id[n["broker"]]["type"] == "mqtt-broker"


def test_event_path_mqtt_in_json_switch_debug() -> None:
    by_id = nodes()
    (events_in,) = [n for n in of_type("mqtt in") if n["topic"].endswith("/events/#")]
    assert events_in["topic"] == "citywatch/+/events/#"
    assert matches(events_in["topic"], Topics("citywatch", "n1").event("face.recognized"))
    (json_id,) = events_in["wires"][0]
    assert by_id[json_id]["type"] == "json"
    (switch_id,) = by_id[json_id]["wires"][0]
    switch = by_id[switch_id]
    assert switch["type"] == "switch" and switch["property"] == "payload.lifecycle"
    assert [r["v"] for r in switch["rules"]] == [lc.value for lc in Lifecycle]
    assert switch["outputs"] == len(switch["wires"]) == 3
    for port in switch["wires"]:
        assert all(by_id[t]["type"] == "debug" for t in port)


def test_face_function_reads_the_typed_keys() -> None:
    """The `who` function reads `face.recognized` by the keys its attributes model declares
    (a misspelt `authorized` would silently be undefined in JavaScript)."""
    by_id = nodes()
    faces_in = by_id["cw_faces_in"]
    assert faces_in["datatype"] == "json" and faces_in["qos"] == "1"
    assert matches(faces_in["topic"], Topics("citywatch", "n1").event("face.recognized"))
    (func_id,) = faces_in["wires"][0]
    code = by_id[func_id]["func"]
    read = set(re.findall(r"\ba\.(\w+)", code))
    assert read == {"identity", "authorised", "similarity"}
    assert read <= set(FaceRecognizedAttributes.model_fields)
    assert set(re.findall(r"\be\.(\w+)", code)) <= set(Event.model_fields)
    (debug_id,) = by_id[func_id]["wires"][0]
    assert by_id[debug_id]["type"] == "debug"


def test_inject_sends_a_valid_ping() -> None:
    by_id = nodes()
    (inject,) = of_type("inject")
    assert inject["topic"] == Topics("citywatch", "citywatch").command("ping")
    CommandEnvelope.model_validate_json(inject["payload"])
    (out_id,) = inject["wires"][0]
    assert by_id[out_id]["type"] == "mqtt out" and by_id[out_id]["topic"] == ""
