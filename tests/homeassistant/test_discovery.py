"""Device-based discovery payload against what Home Assistant requires.

REQUIRED/ALLOWED come from the HA MQTT docs and the platform schemas in home-assistant/core
(`homeassistant/components/mqtt/{schemas,config,event,image,sensor,binary_sensor,switch}.py`):
`MQTT_RO_SCHEMA` requires `state_topic`, `MQTT_RW_SCHEMA` requires `command_topic`, `event`
requires `event_types`, `image` requires exactly one of `image_topic`/`url_topic`, and the
device schema requires `dev` (with identifiers or connections), `o` (with `name`) and `cmps`
(each with `p`). Device-based discovery components need a `unique_id`.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from node.analytics.registry import event_types_for
from node.homeassistant.discovery import (
    DiscoverySpec,
    build_discovery,
    discovery_payload,
    discovery_topic,
    ha_id,
)
from node.homeassistant.templates import AVAILABILITY_TEMPLATE
from node.mqtt.topics import Topics
from schemas.commands import CommandEnvelope, SetParams
from schemas.config import NodeConfig
from schemas.config.explain import ExplainConfig
from schemas.events import Event, Lifecycle
from schemas.homeassistant import DeviceDiscovery
from tests.contract.recorded import recorded_attributes

COMMON_REQUIRED = {"p", "unique_id"}
REQUIRED: dict[str, set[str]] = {
    "event": {"state_topic", "event_types"},
    "image": set(),  # one of image_topic / url_topic, checked below
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "switch": {"command_topic"},
}
COMMON_ALLOWED = {
    "p", "name", "unique_id", "qos", "icon", "entity_category", "enabled_by_default",
    "encoding", "object_id", "default_entity_id", "json_attributes_topic",
    "json_attributes_template", "availability", "availability_mode", "availability_topic",
    "availability_template", "payload_available", "payload_not_available",
}  # fmt: skip
ALLOWED: dict[str, set[str]] = {
    "event": {"state_topic", "event_types", "value_template", "device_class"},
    "image": {"image_topic", "content_type", "image_encoding", "url_topic", "url_template"},
    "sensor": {
        "state_topic", "value_template", "unit_of_measurement", "state_class", "device_class",
        "suggested_display_precision", "expire_after", "force_update", "options",
        "last_reset_value_template",
    },
    "binary_sensor": {
        "state_topic", "value_template", "device_class", "payload_on", "payload_off",
        "expire_after", "off_delay", "force_update",
    },
    "switch": {
        "command_topic", "command_template", "state_topic", "value_template", "payload_on",
        "payload_off", "state_on", "state_off", "optimistic", "retain", "device_class",
    },
}  # fmt: skip
# HA's discovery topic matcher (homeassistant/components/mqtt/discovery.py TOPIC_MATCHER).
TOPIC_MATCHER = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)

CAMERAS = ["front", "back-yard"]
ANALYTICS = ["fire", "faces"]


def config() -> NodeConfig:
    return NodeConfig.model_validate(
        {
            "node_id": "gate-7",
            "name": "Gate 7",
            "cameras": [{"name": c, "source": f"{c}.mp4"} for c in CAMERAS],
        }
    )


def spec(**kw: Any) -> DiscoverySpec:
    return DiscoverySpec.from_config(config(), analytics=ANALYTICS, **kw)


def payload() -> dict[str, Any]:
    return dict(json.loads(discovery_payload(spec())))


def render(template: str, payload: str, **extra: Any) -> str:
    """Render like HA: `value` is the payload, `value_json` its JSON when it parses."""
    env = ImmutableSandboxedEnvironment()
    ctx: dict[str, Any] = {"value": payload, **extra}
    with contextlib.suppress(ValueError):
        ctx["value_json"] = json.loads(payload)
    return env.from_string(template).render(ctx)


def test_topic_and_top_level_fields() -> None:
    topic = discovery_topic("homeassistant", "gate-7")
    assert topic == "homeassistant/device/gate-7/config"
    m = TOPIC_MATCHER.fullmatch(topic.removeprefix("homeassistant/"))
    assert m and m["component"] == "device" and m["object_id"] == "gate-7"
    p = payload()
    assert set(p) == {"dev", "o", "cmps", "availability", "availability_mode", "qos"}
    assert p["dev"]["identifiers"] and all(isinstance(i, str) for i in p["dev"]["identifiers"])
    assert {"name", "manufacturer", "model", "sw_version"} <= set(p["dev"])
    assert p["dev"]["name"] == "Gate 7"
    assert set(p["o"]) == {"name", "sw", "url"} and p["o"]["url"].startswith("https://")
    assert p["qos"] == 1


def test_every_component_has_what_ha_requires_and_nothing_unknown() -> None:
    cmps = payload()["cmps"]
    assert cmps
    for key, comp in cmps.items():
        platform = comp["p"]
        assert platform in REQUIRED, key
        missing = (COMMON_REQUIRED | REQUIRED[platform]) - set(comp)
        assert not missing, f"{key}: missing {missing}"
        unknown = set(comp) - COMMON_ALLOWED - ALLOWED[platform]
        assert not unknown, f"{key}: options HA does not know: {unknown}"
        if platform == "image":
            assert ("image_topic" in comp) != ("url_topic" in comp), key
            assert comp["content_type"] == "image/jpeg"
        if platform == "event":
            assert comp["event_types"] == ["new", "update", "end"]


def test_expected_entities() -> None:
    cmps = payload()["cmps"]
    by_platform: dict[str, set[str]] = {}
    for key, comp in cmps.items():
        by_platform.setdefault(comp["p"], set()).add(key)
    events = set(event_types_for(config(), ANALYTICS))
    assert by_platform["event"] == {f"event_{ha_id(t)}" for t in events}
    # one per camera, and the latest explanation (the `explain` command, on by default)
    assert by_platform["image"] == {f"{c}_snapshot" for c in CAMERAS} | {"explanation"}
    assert by_platform["sensor"] == {f"{c}_fps" for c in CAMERAS} | {
        f"{c}_{a}_inference" for c in CAMERAS for a in ANALYTICS
    }
    assert {cmps[k]["device_class"] for k in by_platform["binary_sensor"]} == {
        "smoke",
        "occupancy",
        "presence",
    }
    assert by_platform["switch"] == {f"camera_{c}_enabled" for c in CAMERAS} | {
        f"analytic_{a}_enabled" for a in ANALYTICS
    }
    topics = Topics("citywatch", "gate-7")
    assert cmps["event_face_recognized"]["state_topic"] == topics.event("face.recognized")
    assert cmps["back-yard_snapshot"]["image_topic"] == topics.camera_snapshot("back-yard")
    assert cmps["explanation"]["image_topic"] == topics.explain_image


def test_no_explanation_entity_when_explanations_are_off() -> None:
    off = config().model_copy(update={"explain": ExplainConfig(enabled=False)})
    cmps = build_discovery(DiscoverySpec.from_config(off, analytics=ANALYTICS)).cmps
    assert "explanation" not in cmps


def test_ids_are_valid_unique_and_scoped_to_the_node() -> None:
    cmps = payload()["cmps"]
    uids = [c["unique_id"] for c in cmps.values()]
    assert len(set(uids)) == len(uids)
    for key, comp in cmps.items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", key), key
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", comp["unique_id"])
        assert comp["unique_id"].startswith("gate-7_")


def test_colliding_ids_are_an_error_not_a_silent_overwrite() -> None:
    with pytest.raises(ValueError, match="share the id"):
        build_discovery(spec(event_types=["a.b", "a_b"]))


@pytest.mark.parametrize(
    ("published", "expected"),
    [("online", "online"), ("offline", "offline"), ("stopped", "offline"), ("", "offline")],
)
def test_availability_is_our_last_will_and_stopped_reads_unavailable(
    published: str, expected: str
) -> None:
    (avail,) = payload()["availability"]
    assert avail["topic"] == Topics("citywatch", "gate-7").availability
    assert avail["payload_available"] == "online"
    assert avail["payload_not_available"] == "offline"
    assert avail["value_template"] == AVAILABILITY_TEMPLATE
    assert render(avail["value_template"], published) == expected


def test_event_template_gives_ha_an_event_type_and_attributes() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ev = Event(
        node_id="gate-7",
        camera="front",
        type="fire",
        track_id="t1",
        lifecycle=Lifecycle.NEW,
        started_at=now,
        score=0.9,
        label="fire",
        attributes=recorded_attributes("fire"),
    )
    comp = payload()["cmps"]["event_fire"]
    out = json.loads(render(comp["value_template"], ev.model_dump_json()))
    assert out["event_type"] == "new" and out["event_type"] in comp["event_types"]
    assert out["camera"] == "front" and out["event_id"] == ev.event_id
    assert out["score"] == pytest.approx(0.9)


def test_stats_templates_read_numbers_and_none_when_missing() -> None:
    cmps = payload()["cmps"]
    stats = json.dumps(
        {"cameras": {"front": {"fps": 12.5, "inference_ms": {"fire": 31.0}}}, "outbox": {}}
    )
    assert render(cmps["front_fps"]["value_template"], stats) == "12.5"
    assert render(cmps["front_fire_inference"]["value_template"], stats) == "31.0"
    # HA's sensor turns the rendered "None" into "unknown" instead of an error.
    assert render(cmps["back-yard_fps"]["value_template"], stats) == "None"
    assert render(cmps["front_faces_inference"]["value_template"], stats) == "None"
    assert cmps["front_fps"]["unit_of_measurement"] == "fps"
    assert cmps["front_fire_inference"]["unit_of_measurement"] == "ms"
    assert {c["state_class"] for c in cmps.values() if c["p"] == "sensor"} == {"measurement"}


@pytest.mark.parametrize(("value", "enabled"), [("ON", True), ("OFF", False)])
def test_switch_sends_our_set_command(value: str, enabled: bool) -> None:
    cmps = payload()["cmps"]
    sw = cmps["camera_back-yard_enabled"]
    assert sw["command_topic"] == "citywatch/gate-7/cmd/set"
    assert sw["state_topic"] == "citywatch/gate-7/state/camera/back-yard"
    assert sw["retain"] is False and sw["optimistic"] is False

    class _Now:
        def timestamp(self) -> float:
            return 1700000000.5

    rendered = render(sw["command_template"], value, now=lambda: _Now())
    envelope = CommandEnvelope.model_validate_json(rendered)
    params = SetParams.model_validate(envelope.params)
    assert (params.target, params.name, params.enabled) == ("camera", "back-yard", enabled)
    assert envelope.request_id == "ha-1700000000"
    a = render(cmps["analytic_faces_enabled"]["command_template"], value, now=lambda: _Now())
    assert SetParams.model_validate(json.loads(a)["params"]).target == "analytic"


def test_payload_round_trips_through_the_model() -> None:
    raw = payload()
    model = DeviceDiscovery.model_validate(raw)
    assert model.model_dump(mode="json", exclude_none=True) == raw
    bad = json.loads(json.dumps(raw))
    bad["cmps"]["front_fps"]["stat_t"] = "typo"
    with pytest.raises(ValueError):
        DeviceDiscovery.model_validate(bad)


def test_default_event_types_follow_the_enabled_analytics() -> None:
    s = DiscoverySpec.from_config(config())  # nothing enabled in this config
    assert s.analytics == [] and s.event_types == []
    assert event_types_for(config(), ["fire", "faces"]) == [
        "fire", "smoke", "face.recognized", "face.unknown", "gate.opened", "gate.closed"]
    with pytest.raises(KeyError, match="unknown analytic"):
        event_types_for(config(), ["fire", "unknown_thing"])
    assert ha_id("face.recognized") == "face_recognized"


def _zones_config() -> NodeConfig:
    return NodeConfig.model_validate({
        "node_id": "gate-7",
        "analytics": {"objects": {"enabled": True}},
        "cameras": [
            {"name": "high-street", "source": "a.mp4",
             "lines": [{"name": "door", "points": [[0, 10], [100, 10]]}],
             "zones": {"kiosk": [[0, 0], [9, 0], [9, 9]]},
             "zone_rules": {"kiosk": {"loitering_s": 30}}},
            {"name": "back", "source": "b.mp4"},
        ],
    })  # fmt: skip


def test_zone_counters_and_zone_event_entities() -> None:
    cfg = _zones_config()
    cmps = json.loads(discovery_payload(DiscoverySpec.from_config(cfg)))["cmps"]
    drawn = ("high-street_line_", "high-street_zone_")
    counters = {k: c for k, c in cmps.items() if k.startswith(drawn)}
    assert sorted(counters) == [
        "high-street_line_door_in", "high-street_line_door_out",
        "high-street_zone_kiosk_entries", "high-street_zone_kiosk_occupancy",
    ]  # fmt: skip
    state = json.dumps({"camera": "high-street", "lines": {"door": {
        "in_count": 3, "out_count": 1, "in_by_label": {"person": 2, "bicycle": 1},
        "out_by_label": {"person": 1}, "since": 0}}, "zones": {}})  # fmt: skip
    door_in = counters["high-street_line_door_in"]
    assert door_in["state_topic"] == "citywatch/gate-7/state/zones/high-street"
    assert door_in["state_class"] == "total_increasing"
    assert render(door_in["value_template"], state) == "3"
    assert json.loads(render(door_in["json_attributes_template"], state)) == {
        "person": 2, "bicycle": 1}
    kiosk = counters["high-street_zone_kiosk_occupancy"]
    assert kiosk["state_class"] == "measurement"
    assert render(kiosk["value_template"], state) == "None"  # missing: HA reads "unknown"
    assert {"event_line_crossed", "event_zone_loitering"} <= set(cmps)
    assert "event_zone_overcrowded" not in cmps  # no camera asks for it


def test_line_crossed_entity_fires_in_or_out() -> None:
    cmps = json.loads(discovery_payload(DiscoverySpec.from_config(_zones_config())))["cmps"]
    comp = cmps["event_line_crossed"]
    ev = Event(node_id="gate-7", camera="high-street", type="line.crossed", track_id="t",
               lifecycle=Lifecycle.NEW, started_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
               score=0.8, label="person",
               attributes=recorded_attributes("line.crossed", line="door", direction="out",
                                              track=4, label="person"))  # fmt: skip
    out = json.loads(render(comp["value_template"], ev.model_dump_json()))
    assert out["event_type"] == "out" and out["event_type"] in comp["event_types"]
    assert (out["line"], out["label"], out["track"]) == ("door", "person", 4)


def test_no_zone_counters_without_the_objects_analytic() -> None:
    cfg = _zones_config()
    cmps = build_discovery(DiscoverySpec.from_config(cfg, analytics=["fire"])).cmps
    assert not [k for k in cmps if "_line_" in k or "_zone_" in k]
