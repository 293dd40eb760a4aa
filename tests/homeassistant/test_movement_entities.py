"""Movement in Home Assistant: an `event` entity whose event types are the actions, one for the
face identification after a fall or fight, and per-action counters (`total_increasing` sensors on
the retained `state/movement/counts`).

HA's MQTT event platform (home-assistant/core `components/mqtt/event.py`, `_event_received`):
retained messages are ignored; the payload is rendered through `value_template`; an empty
rendering (or `None`/`{}`) is dropped; otherwise it must be a JSON object whose `event_type` is
one of `event_types` (else a warning and the message is dropped), the other keys become the
entity's attributes. `ha_event` below does exactly that, so these tests show what HA would fire.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from node.analytics.registry import event_types_for
from node.clock import ManualClock
from node.homeassistant.bridge import MovementCountsPublisher
from node.homeassistant.counters import MovementCounter
from node.homeassistant.discovery import DiscoverySpec, discovery_payload
from node.mqtt.topics import MOVEMENT_COUNTS_SUFFIX
from node.outbox import Outbox
from node.sink import OutboxEventSink
from node.snapshots import OverlayTap, SnapshotRenderer
from schemas.config import NodeConfig
from schemas.config.outbox import OutboxConfig
from schemas.events import Event, Lifecycle, Severity
from schemas.homeassistant import DeviceDiscovery
from tests.contract.recorded import recorded_attributes
from tests.homeassistant.test_discovery import (
    ALLOWED,
    COMMON_ALLOWED,
    COMMON_REQUIRED,
    REQUIRED,
    render,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
ACTIONS = ["walk", "run", "fall", "fight"]


def config(actions: list[str] | None = None) -> NodeConfig:
    movement: dict[str, Any] = {"enabled": True}
    if actions is not None:
        movement["actions"] = actions
    return NodeConfig.model_validate({
        "node_id": "gate-7", "cameras": [{"name": "front", "source": "front.mp4"}],
        "analytics": {"movement": movement, "faces": {"enabled": True}},
    })


def cmps(analytics: list[str], actions: list[str] | None = None) -> dict[str, Any]:
    spec = DiscoverySpec.from_config(config(actions), analytics=analytics)
    out: dict[str, Any] = json.loads(discovery_payload(spec))["cmps"]
    return out


def ev(lc: Lifecycle, label: str, type_: str = "movement", camera: str = "front",
       **attrs: Any) -> Event:
    """An event with the recorded attributes of its type: person 4 doing ``label``."""
    if type_ == "movement":
        attrs = {"track_id": 4, "action": label, **attrs}
    elif type_ == "movement.identified":
        attrs = {"action": label, **attrs}
    return Event(
        node_id="gate-7", camera=camera, type=type_, track_id="occ-1", lifecycle=lc,
        started_at=T0, ended_at=T0 if lc is Lifecycle.END else None, score=0.8, label=label,
        severity=Severity.CRITICAL, attributes=recorded_attributes(type_, **attrs),
    )


def ha_event(
    comp: dict[str, Any], event: Event, retain: bool = False
) -> tuple[str, dict[str, Any]] | None:
    """(event_type, attributes) HA's MQTT event entity fires for this message, or None."""
    if retain:
        return None
    rendered = render(comp["value_template"], event.model_dump_json())
    if not rendered or rendered in ("None", "{}"):
        return None
    attrs = json.loads(rendered)
    assert isinstance(attrs, dict)
    event_type = str(attrs.pop("event_type"))
    if event_type not in comp["event_types"]:
        pytest.fail(f"HA would log 'Invalid event type {event_type}' and drop the message")
    return event_type, attrs


def test_movement_entity_event_types_are_the_actions() -> None:
    c = cmps(["movement"])
    comp = c["event_movement"]
    assert comp["p"] == "event" and comp["event_types"] == ACTIONS
    assert comp["state_topic"] == "citywatch/gate-7/events/movement"
    assert not (COMMON_REQUIRED | REQUIRED["event"]) - set(comp)
    assert not set(comp) - COMMON_ALLOWED - ALLOWED["event"]
    assert "event_movement_identified" not in c  # no faces: nothing to identify with
    # the configured actions, not a fixed list
    assert cmps(["movement"], ["fall", "fight"])["event_movement"]["event_types"] == [
        "fall", "fight"]


@pytest.mark.parametrize("action", ACTIONS)
def test_a_new_movement_event_fires_its_action_once(action: str) -> None:
    comp = cmps(["movement"])["event_movement"]
    fired = ha_event(comp, ev(Lifecycle.NEW, action))
    assert fired is not None
    event_type, attrs = fired
    assert event_type == action
    assert attrs == {"camera": "front", "score": 0.8, "severity": "critical", "person": 4,
                     "track_id": "occ-1", "event_id": attrs["event_id"]}
    assert len(attrs["event_id"]) == 32
    # the same occurrence's update and end fire nothing, and neither does a retained replay
    assert ha_event(comp, ev(Lifecycle.UPDATE, action)) is None
    assert ha_event(comp, ev(Lifecycle.END, action)) is None
    assert ha_event(comp, ev(Lifecycle.NEW, action), retain=True) is None


def test_an_action_not_configured_renders_empty_instead_of_an_invalid_type() -> None:
    comp = cmps(["movement"], ["fall", "fight"])["event_movement"]
    assert ha_event(comp, ev(Lifecycle.NEW, "walk")) is None
    fired = ha_event(comp, ev(Lifecycle.NEW, "fall"))
    assert fired is not None and fired[0] == "fall"


def test_identified_entity_names_the_people() -> None:
    c = cmps(["faces", "movement"])
    assert "movement.identified" in event_types_for(config(), ["faces", "movement"])
    comp = c["event_movement_identified"]
    assert comp["event_types"] == ["fall", "fight"]
    assert comp["state_topic"] == "citywatch/gate-7/events/movement.identified"
    people = [{"track_id": 4, "status": "identified", "identity": "elton_john",
               "similarity": 0.61, "authorised": True, "face_box": [1.0, 2.0, 30.0, 40.0]},
              {"track_id": 5, "status": "unknown", "identity": None, "similarity": 0.2,
               "authorised": None, "face_box": [50.0, 2.0, 80.0, 40.0]}]
    e = ev(Lifecycle.NEW, "fight", "movement.identified", identities=["elton_john"],
           unknown_faces=1, people=people)
    fired = ha_event(comp, e)
    assert fired is not None
    event_type, attrs = fired
    assert event_type == "fight"
    assert attrs == {"camera": "front", "identities": ["elton_john"], "unknown_faces": 1,
                     "people": people, "event_id": e.event_id}
    # the other event entities keep the lifecycle as their event type
    assert c["event_face_recognized"]["event_types"] == ["new", "update", "end"]
    # no escalation configured: no identification entity
    off = config()
    off.analytics.movement.escalate_faces = False
    spec = DiscoverySpec.from_config(off, analytics=["faces", "movement"])
    assert "movement.identified" not in spec.event_types and "movement" in spec.event_types


def test_counter_sensors_read_the_retained_counts() -> None:
    c = cmps(["movement"])
    sensors = {k: v for k, v in c.items() if k.startswith("movement_")}
    assert set(sensors) == {f"movement_{a}_count" for a in ACTIONS}
    counter = MovementCounter(ACTIONS)
    for lc, label, cam in [(Lifecycle.NEW, "fall", "front"), (Lifecycle.UPDATE, "fall", "front"),
                           (Lifecycle.NEW, "walk", "front"), (Lifecycle.NEW, "walk", "back"),
                           (Lifecycle.END, "walk", "back")]:
        counter.observe(ev(lc, label, camera=cam))
    state = counter.payload()
    for action, comp in sensors.items():
        assert comp["p"] == "sensor" and comp["state_class"] == "total_increasing"
        assert "unit_of_measurement" not in comp
        assert comp["state_topic"] == "citywatch/gate-7/" + MOVEMENT_COUNTS_SUFFIX
        assert not set(comp) - COMMON_ALLOWED - ALLOWED["sensor"]
        name = action.split("_")[1]
        assert render(comp["value_template"], state) == str({"fall": 1, "walk": 2}.get(name, 0))
    assert render(sensors["movement_fall_count"]["value_template"], "{}") == "None"
    DeviceDiscovery.model_validate(json.loads(discovery_payload(
        DiscoverySpec.from_config(config(), analytics=["movement"]))))


def test_counter_counts_new_movement_events_per_action_and_camera() -> None:
    counter = MovementCounter(ACTIONS)
    assert json.loads(counter.payload()) == {
        "counts": {"walk": 0, "run": 0, "fall": 0, "fight": 0}, "cameras": {}}
    assert counter.observe(ev(Lifecycle.NEW, "fall"))
    assert not counter.observe(ev(Lifecycle.UPDATE, "fall"))
    assert not counter.observe(ev(Lifecycle.END, "fall"))
    assert not counter.observe(ev(Lifecycle.NEW, "fall", "movement.identified"))
    assert not counter.observe(ev(Lifecycle.NEW, "fire", "fire"))
    assert counter.observe(ev(Lifecycle.NEW, "fall", camera="back"))
    assert counter.observe(ev(Lifecycle.NEW, "fight"))
    p = json.loads(counter.payload())
    assert p["counts"] == {"walk": 0, "run": 0, "fall": 2, "fight": 1}
    assert p["cameras"] == {"front": {"walk": 0, "run": 0, "fall": 1, "fight": 1},
                            "back": {"walk": 0, "run": 0, "fall": 1, "fight": 0}}
    # an action the config does not raise is not counted
    only = MovementCounter(["fall"])
    assert not only.observe(ev(Lifecycle.NEW, "walk"))
    assert json.loads(only.payload())["counts"] == {"fall": 0}


class StateLink:
    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.states: list[tuple[str, str]] = []

    async def publish(self, *a: Any, **k: Any) -> bool:
        return True

    async def set_state(self, suffix: str, payload: bytes | str) -> None:
        self.states.append((suffix, payload if isinstance(payload, str) else payload.decode()))


async def test_sink_publishes_the_counts_when_movement_events_are_emitted(tmp_path: Path) -> None:
    cfg = config()
    outbox = Outbox(tmp_path / "o.sqlite", OutboxConfig(), ManualClock())
    await outbox.open()
    link = StateLink()
    executor = ThreadPoolExecutor(1)
    counts = MovementCountsPublisher(link.set_state, MovementCounter(ACTIONS))
    sink = OutboxEventSink(outbox, link, cfg, executor,  # type: ignore[arg-type]
                           SnapshotRenderer(cfg, OverlayTap()), [counts])
    try:
        for e in [ev(Lifecycle.NEW, "run"), ev(Lifecycle.UPDATE, "run"), ev(Lifecycle.END, "run"),
                  ev(Lifecycle.NEW, "fall")]:
            await sink.emit(e, None)
        assert sink.emitted == 4 and outbox.depth == 4
    finally:
        await outbox.close()
        executor.shutdown()
    counts = [json.loads(p)["counts"] for s, p in link.states if s == MOVEMENT_COUNTS_SUFFIX]
    assert counts == [{"walk": 0, "run": 1, "fall": 0, "fight": 0},
                      {"walk": 0, "run": 1, "fall": 1, "fight": 0}]
