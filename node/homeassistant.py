"""Home Assistant device-based MQTT discovery: one retained message describes the whole node.

Pure builders turn the node config into ``schemas.homeassistant.DeviceDiscovery`` (published on
``<discovery_prefix>/device/<node_id>/config``); ``Announcer`` re-publishes it after a random delay
whenever Home Assistant's birth message (``<discovery_prefix>/status`` = ``online``) arrives, so a
restarted HA (or one whose broker lost retained messages) finds the node again without a stampede
of every node announcing at the same instant.

Topic contracts this module relies on (the node app publishes them):

* ``state/camera/<camera>`` and ``state/analytic/<analytic>``: retained ``ON``/``OFF``, the
  run-time enabled state behind the switches (``toggle_state_suffix``);
* ``state/presence/<kind>``: retained ``ON``/``OFF`` for fire, person and authorised presence,
  computed from events by ``PresenceTracker``;
* ``stats``: JSON with ``cameras.<camera>.fps`` and ``cameras.<camera>.inference_ms.<analytic>``;
* ``state/movement/counts``: retained JSON ``{"counts": {<action>: n}, "cameras": {<camera>:
  {<action>: n}}}``, occurrences (``new`` movement events) per action since the node started,
  computed from events by ``MovementCounter``.

Movement's ``event`` entities fire once per occurrence with the *action* as HA's ``event_type``
(``walk``/``run``/``fall``/``fight``): the template renders nothing for ``update``/``end``, which
HA's MQTT event platform ignores (an empty rendered payload is dropped before parsing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from node import __version__
from node.mqtt.topics import AVAILABILITY_OFFLINE, AVAILABILITY_ONLINE, Topics
from schemas.config import NodeConfig
from schemas.config.gate import GateMode, GateScope
from schemas.events import Event, Lifecycle
from schemas.homeassistant import (
    HA_ID_PATTERN,
    Availability,
    BinarySensorComponent,
    Component,
    DeviceDiscovery,
    DeviceInfo,
    EventComponent,
    ImageComponent,
    OriginInfo,
    SensorComponent,
    SwitchComponent,
)

log = logging.getLogger(__name__)

MANUFACTURER = "citywatch"
MODEL = "citywatch edge node"
ORIGIN_NAME = "citywatch"
ORIGIN_URL = "https://github.com/citywatch/citywatch"
STATE_ON = "ON"
STATE_OFF = "OFF"
HA_ONLINE = b"online"

# What each analytic publishes on ``events/<type>`` (its HA `event` entity). An analytic missing
# here gets one event type named after it; the app may pass the exact list instead.
ANALYTIC_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "noop": (),
    "synthetic": ("synthetic",),
    "objects": ("object", "weapon"),
    "fire": ("fire", "smoke"),
    "faces": ("face.recognized", "face.unknown", "gate.opened", "gate.closed"),
    "movement": ("movement",),
}
# Published only where the movement analytic can ask the face analytic (both enabled).
MOVEMENT_IDENTIFIED = "movement.identified"
MOVEMENT_EVENT = "movement"
# Actions after which the movement analytic escalates to face identification.
ESCALATING_ACTIONS = ("fall", "fight")
MOVEMENT_COUNTS_SUFFIX = "state/movement/counts"

PresenceKind = Literal["fire", "person", "authorised"]

# binary_sensor per presence kind: (entity name, HA device_class)
PRESENCE_SENSORS: dict[PresenceKind, tuple[str, str]] = {
    "fire": ("Fire or smoke", "smoke"),
    "person": ("Person", "occupancy"),
    "authorised": ("Authorised person", "presence"),
}

# Every payload but `online` (i.e. `offline` from the last will and `stopped` from a clean
# shutdown) must read unavailable; HA ignores payloads matching neither, so map them here.
AVAILABILITY_TEMPLATE = (
    "{{ '"
    + AVAILABILITY_ONLINE
    + "' if value == '"
    + AVAILABILITY_ONLINE
    + "' else '"
    + AVAILABILITY_OFFLINE
    + "' }}"
)

# HA's `event` platform wants JSON with an `event_type` key; ours is the lifecycle, the rest of
# the mapping becomes the event's attributes. Retained replays are ignored by HA itself.
EVENT_VALUE_TEMPLATE = (
    "{{ {'event_type': value_json.lifecycle, 'camera': value_json.camera, "
    "'label': value_json.label, 'score': value_json.score, 'severity': value_json.severity, "
    "'track_id': value_json.track_id, 'event_id': value_json.event_id} | tojson }}"
)
EVENT_TYPES_LIFECYCLE = [lc.value for lc in Lifecycle]


def _quoted_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


def movement_value_template(actions: Sequence[str]) -> str:
    """``movement`` events -> HA event with ``event_type`` = the action, once per occurrence
    (``new``); ``update``/``end`` and unknown labels render empty, which HA ignores."""
    return (
        "{% if value_json.lifecycle == 'new' and value_json.label in " + _quoted_list(actions)
        + " %}{{ {'event_type': value_json.label, 'camera': value_json.camera, "
        "'score': value_json.score, 'severity': value_json.severity, "
        "'person': value_json.attributes.get('track_id'), 'track_id': value_json.track_id, "
        "'event_id': value_json.event_id} | tojson }}{% endif %}"
    )


def identified_value_template(actions: Sequence[str]) -> str:
    """``movement.identified`` -> HA event with ``event_type`` = the action (fall/fight) and the
    people identified by their faces as attributes."""
    return (
        "{% if value_json.lifecycle == 'new' and value_json.label in " + _quoted_list(actions)
        + " %}{{ {'event_type': value_json.label, 'camera': value_json.camera, "
        "'identities': value_json.attributes.get('identities', []), "
        "'unknown_faces': value_json.attributes.get('unknown_faces', 0), "
        "'people': value_json.attributes.get('people', []), "
        "'event_id': value_json.event_id} | tojson }}{% endif %}"
    )


def movement_counts_template(action: str) -> str:
    return "{{ value_json.get('counts', {}).get('" + action + "') }}"


def discovery_topic(discovery_prefix: str, node_id: str) -> str:
    return f"{discovery_prefix}/device/{ha_id(node_id)}/config"


def ha_status_topic(discovery_prefix: str) -> str:
    return f"{discovery_prefix}/status"


def toggle_state_suffix(target: Literal["camera", "analytic"], name: str) -> str:
    """Retained ``ON``/``OFF`` topic (under the node's base) the switches read."""
    return f"state/{target}/{name}"


def presence_state_suffix(kind: PresenceKind) -> str:
    return f"state/presence/{kind}"


def ha_id(text: str) -> str:
    """An id HA's discovery accepts: characters outside ``[a-zA-Z0-9_-]`` become ``_``."""
    out = re.sub(r"[^a-zA-Z0-9_-]", "_", text)
    if not re.fullmatch(HA_ID_PATTERN, out):
        raise ValueError(f"cannot make a Home Assistant id from {text!r}")
    return out


def movement_counts_suffix() -> str:
    return MOVEMENT_COUNTS_SUFFIX


def event_types_for(analytics: Iterable[str]) -> list[str]:
    names = list(analytics)
    types: list[str] = []
    for name in names:
        for t in ANALYTIC_EVENT_TYPES.get(name, (name,)):
            if t not in types:
                types.append(t)
    if "movement" in names and "faces" in names:
        types.append(MOVEMENT_IDENTIFIED)
    return types


@dataclass(frozen=True)
class DiscoverySpec:
    """Everything the discovery payload depends on, so building it is a pure function."""

    node_id: str
    device_name: str
    topics: Topics
    cameras: Sequence[str]
    analytics: Sequence[str]
    event_types: Sequence[str]
    qos: int = 1
    sw_version: str = __version__
    # Gate binary sensors: () none (gate mode `open`: always open), ("",) the node's
    # `state/gate`, or camera names for camera-scoped gates (`state/gate/<camera>`).
    gate_keys: Sequence[str] = ()
    # The movement analytic's actions (config `analytics.movement.actions`) when it runs: the
    # event_types of its event entities and one counter sensor each.
    movement_actions: Sequence[str] = ()

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        *,
        analytics: Sequence[str] | None = None,
        event_types: Sequence[str] | None = None,
    ) -> DiscoverySpec:
        if analytics is None:
            # Lazy: the registry imports the analytics interface (numpy), unneeded otherwise.
            from node.analytics.registry import enabled_names

            analytics = enabled_names(config)
        return cls(
            node_id=config.node_id,
            device_name=config.name or f"citywatch {config.node_id}",
            topics=Topics(config.mqtt.topic_prefix, config.node_id),
            cameras=[c.name for c in config.cameras],
            analytics=list(analytics),
            event_types=(
                list(event_types) if event_types is not None
                else [t for t in event_types_for(analytics)
                      if t != MOVEMENT_IDENTIFIED or config.analytics.movement.escalate_faces]
            ),
            qos=config.mqtt.qos,
            gate_keys=_gate_keys(config),
            movement_actions=(
                list(config.analytics.movement.actions) if "movement" in analytics else []
            ),
        )


def build_discovery(spec: DiscoverySpec) -> DeviceDiscovery:
    comps: dict[str, Component] = {}
    builders = (
        _event_components, _camera_components, _presence_components, _gate_components, _switches,
        _movement_counters,
    )
    for builder in builders:
        for key, comp in builder(spec):
            if key in comps:
                raise ValueError(f"two Home Assistant components would share the id {key!r}")
            comps[key] = comp
    return DeviceDiscovery(
        dev=DeviceInfo(
            identifiers=[f"citywatch_{ha_id(spec.node_id)}"],
            name=spec.device_name,
            manufacturer=MANUFACTURER,
            model=MODEL,
            sw_version=spec.sw_version,
        ),
        o=OriginInfo(name=ORIGIN_NAME, sw=spec.sw_version, url=ORIGIN_URL),
        cmps=comps,
        availability=[
            Availability(
                topic=spec.topics.availability,
                payload_available=AVAILABILITY_ONLINE,
                payload_not_available=AVAILABILITY_OFFLINE,
                value_template=AVAILABILITY_TEMPLATE,
            )
        ],
        availability_mode="latest",
        qos=spec.qos,
    )


def discovery_payload(spec: DiscoverySpec) -> bytes:
    model = build_discovery(spec)
    return json.dumps(model.model_dump(mode="json", exclude_none=True), sort_keys=True).encode()


def _uid(spec: DiscoverySpec, key: str) -> str:
    return f"{ha_id(spec.node_id)}_{key}"


def _event_shape(spec: DiscoverySpec, event_type: str) -> tuple[list[str], str]:
    """(event_types, value_template) of the entity of ``event_type``: the action for movement
    (when the spec knows the actions), the lifecycle for everything else."""
    actions = list(spec.movement_actions)
    if event_type == MOVEMENT_EVENT and actions:
        return actions, movement_value_template(actions)
    escalating = [a for a in actions if a in ESCALATING_ACTIONS]
    if event_type == MOVEMENT_IDENTIFIED and escalating:
        return escalating, identified_value_template(escalating)
    return EVENT_TYPES_LIFECYCLE, EVENT_VALUE_TEMPLATE


def _event_components(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    for event_type in spec.event_types:
        key = f"event_{ha_id(event_type)}"
        types, template = _event_shape(spec, event_type)
        yield (
            key,
            EventComponent(
                p="event",
                unique_id=_uid(spec, key),
                name=f"{event_type} events",
                qos=spec.qos,
                state_topic=spec.topics.event(event_type),
                event_types=types,
                value_template=template,
            ),
        )


def _movement_counters(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    for action in spec.movement_actions:
        key = f"movement_{ha_id(action)}_count"
        yield (
            key,
            SensorComponent(
                p="sensor",
                unique_id=_uid(spec, key),
                name=f"{action} count",
                qos=spec.qos,
                state_topic=spec.topics.sub(MOVEMENT_COUNTS_SUFFIX),
                value_template=movement_counts_template(action),
                state_class="total_increasing",
                icon="mdi:counter",
            ),
        )


def _stats_template(*path: str) -> str:
    # .get() chains so a camera or analytic missing from one stats message renders `None`,
    # which HA's sensor treats as "unknown" instead of logging a template error.
    expr = "value_json" + "".join(f".get('{p}', {{}})" for p in path[:-1]) + f".get('{path[-1]}')"
    return "{{ " + expr + " }}"


def _camera_components(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    for cam in spec.cameras:
        yield (
            f"{cam}_snapshot",
            ImageComponent(
                p="image",
                unique_id=_uid(spec, f"{cam}_snapshot"),
                name=f"{cam} snapshot",
                qos=0,
                image_topic=spec.topics.camera_snapshot(cam),
                content_type="image/jpeg",
            ),
        )
        yield (
            f"{cam}_fps",
            SensorComponent(
                p="sensor",
                unique_id=_uid(spec, f"{cam}_fps"),
                name=f"{cam} fps",
                qos=0,
                state_topic=spec.topics.stats,
                value_template=_stats_template("cameras", cam, "fps"),
                unit_of_measurement="fps",
                state_class="measurement",
                suggested_display_precision=1,
                entity_category="diagnostic",
            ),
        )
        for analytic in spec.analytics:
            key = f"{cam}_{ha_id(analytic)}_inference"
            yield (
                key,
                SensorComponent(
                    p="sensor",
                    unique_id=_uid(spec, key),
                    name=f"{cam} {analytic} inference",
                    qos=0,
                    state_topic=spec.topics.stats,
                    value_template=_stats_template("cameras", cam, "inference_ms", analytic),
                    unit_of_measurement="ms",
                    state_class="measurement",
                    suggested_display_precision=1,
                    entity_category="diagnostic",
                ),
            )


def _presence_components(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    for kind, (name, device_class) in PRESENCE_SENSORS.items():
        key = f"presence_{kind}"
        yield (
            key,
            BinarySensorComponent(
                p="binary_sensor",
                unique_id=_uid(spec, key),
                name=name,
                qos=spec.qos,
                state_topic=spec.topics.sub(presence_state_suffix(kind)),
                device_class=device_class,
                payload_on=STATE_ON,
                payload_off=STATE_OFF,
            ),
        )


def _gate_keys(config: NodeConfig) -> list[str]:
    if config.gate.mode is not GateMode.FACE:
        return []
    if config.gate.scope is GateScope.CAMERA:
        return [c.name for c in config.cameras]
    return [""]


# `state/gate` carries the gate's JSON (`node.face.gate.GateState`); HA's `lock` class reads
# ON as unlocked, i.e. a session is open and gated analytics run.
GATE_VALUE_TEMPLATE = (
    "{{ '" + STATE_ON + "' if value_json.state == 'open' else '" + STATE_OFF + "' }}"
)


def _gate_components(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    for cam in spec.gate_keys:
        key = f"gate_{ha_id(cam)}" if cam else "gate"
        yield (
            key,
            BinarySensorComponent(
                p="binary_sensor",
                unique_id=_uid(spec, key),
                name=f"{cam} gate" if cam else "Gate",
                qos=spec.qos,
                state_topic=spec.topics.sub(f"state/gate/{cam}" if cam else "state/gate"),
                device_class="lock",
                value_template=GATE_VALUE_TEMPLATE,
                payload_on=STATE_ON,
                payload_off=STATE_OFF,
            ),
        )


def set_command_template(target: Literal["camera", "analytic"], name: str) -> str:
    """HA renders this with ``value`` = ``ON``/``OFF`` into our ``set`` command envelope."""
    params = (
        '{"target": "' + target + '", "name": "' + name + '", '
        "\"enabled\": {{ 'true' if value == '" + STATE_ON + "' else 'false' }}}"
    )
    return '{"request_id": "ha-{{ now().timestamp() | int }}", "params": ' + params + "}"


def _switches(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    targets: list[tuple[Literal["camera", "analytic"], str]] = [
        ("camera", c) for c in spec.cameras
    ] + [("analytic", a) for a in spec.analytics]
    for target, name in targets:
        key = f"{target}_{ha_id(name)}_enabled"
        yield (
            key,
            SwitchComponent(
                p="switch",
                unique_id=_uid(spec, key),
                name=f"{name} {'camera' if target == 'camera' else 'analytic'}",
                qos=1,
                command_topic=spec.topics.command("set"),
                command_template=set_command_template(target, name),
                state_topic=spec.topics.sub(toggle_state_suffix(target, name)),
                payload_on=STATE_ON,
                payload_off=STATE_OFF,
                # The state comes back from the node (retained), never assumed by HA.
                optimistic=False,
                # A retained command would re-toggle the node on every reconnect.
                retain=False,
                entity_category="config",
            ),
        )


# --- presence state from events -----------------------------------------------------------


def _is_fire(event: Event) -> bool:
    return event.type in ("fire", "smoke")


def _is_person(event: Event) -> bool:
    return event.label == "person" or "person" in event.labels


def _is_authorised(event: Event) -> bool:
    attrs = event.attributes
    return event.type == "face.recognized" and bool(
        attrs.get("authorised", attrs.get("authorized", False))
    )


PRESENCE_RULES: dict[PresenceKind, Callable[[Event], bool]] = {
    "fire": _is_fire,
    "person": _is_person,
    "authorised": _is_authorised,
}


@dataclass
class PresenceTracker:
    """Turns the event stream into ``ON``/``OFF`` per presence kind for the binary sensors.

    A kind is ``ON`` while at least one occurrence (camera, type, track) it matches is open:
    ``new``/``update`` open it, ``end`` closes it. Pure and synchronous; the app publishes what
    ``observe`` returns with ``set_state`` (retained) and ``initial_states`` at start.
    """

    rules: Mapping[PresenceKind, Callable[[Event], bool]] = field(
        default_factory=lambda: dict(PRESENCE_RULES)
    )
    _open: dict[PresenceKind, set[tuple[str, str, str]]] = field(default_factory=dict)

    def initial_states(self) -> dict[str, str]:
        return {presence_state_suffix(k): self._state(k) for k in self.rules}

    def observe(self, event: Event) -> dict[str, str]:
        """The state suffixes whose value changed because of ``event``."""
        changed: dict[str, str] = {}
        occ = (event.camera, event.type, event.track_id)
        for kind, matches in self.rules.items():
            if not matches(event):
                continue
            before = self._state(kind)
            opened = self._open.setdefault(kind, set())
            if event.lifecycle is Lifecycle.END:
                opened.discard(occ)
            else:
                opened.add(occ)
            if self._state(kind) != before:
                changed[presence_state_suffix(kind)] = self._state(kind)
        return changed

    def _state(self, kind: PresenceKind) -> str:
        return STATE_ON if self._open.get(kind) else STATE_OFF


@dataclass
class MovementCounter:
    """Occurrences per movement action since the node started, from the event stream: one per
    ``new`` ``movement`` event whose label is a counted action (a track's action that ends and
    comes back later is a second occurrence). Pure and synchronous; the app publishes
    ``payload()`` retained on ``MOVEMENT_COUNTS_SUFFIX`` at start and whenever ``observe``
    returns True. HA's sensors are ``total_increasing``: the restart of a node (counts back to 0)
    reads as a meter reset, not as a negative count."""

    actions: Sequence[str]
    counts: dict[str, int] = field(default_factory=dict)
    cameras: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for a in self.actions:
            self.counts.setdefault(a, 0)

    def observe(self, event: Event) -> bool:
        """Count ``event``; True when a count changed."""
        if (
            event.type != MOVEMENT_EVENT
            or event.lifecycle is not Lifecycle.NEW
            or event.label not in self.counts
        ):
            return False
        self.counts[event.label] += 1
        cam = self.cameras.setdefault(event.camera, {a: 0 for a in self.actions})
        cam[event.label] += 1
        return True

    def payload(self) -> str:
        return json.dumps({"counts": self.counts, "cameras": self.cameras}, sort_keys=True)


# --- announcing ----------------------------------------------------------------------------

Publish = Callable[[str, bytes, int, bool], Awaitable[object]]


class Announcer:
    """Publishes discovery (retained, QoS 1) now and again after every HA birth message.

    ``on_ha_status`` returns at once and announces from a background task after a delay drawn
    from ``uniform(0, delay_max_s)``; a second birth while one is pending restarts the wait, so
    a flapping HA gets one announcement. ``sleep`` and ``uniform`` are injectable for tests.
    """

    def __init__(
        self,
        publish: Publish,
        topic: str,
        payload: bytes | Callable[[], bytes],
        delay_max_s: float,
        *,
        uniform: Callable[[float, float], float] = random.uniform,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._publish = publish
        self._topic = topic
        self._payload = payload
        self._delay_max_s = delay_max_s
        self._uniform = uniform
        self._sleep = sleep
        self._pending: asyncio.Task[None] | None = None
        self.announcements = 0

    async def announce(self) -> None:
        payload = self._payload() if callable(self._payload) else self._payload
        await self._publish(self._topic, payload, 1, True)
        self.announcements += 1
        log.debug("announced Home Assistant discovery on %s", self._topic)

    async def on_ha_status(self, payload: bytes) -> None:
        if payload.strip().lower() != HA_ONLINE:
            return
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        delay = self._uniform(0.0, self._delay_max_s)
        self._pending = asyncio.create_task(self._announce_after(delay))

    async def wait_pending(self) -> None:
        """Wait for a scheduled announcement (tests, and a clean shutdown)."""
        if self._pending is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending

    async def close(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        await self.wait_pending()

    async def _announce_after(self, delay: float) -> None:
        await self._sleep(delay)
        try:
            await self.announce()
        except Exception:
            # A failed re-announce must not kill the node; the next birth or reconnect retries.
            log.exception("Home Assistant re-announce failed")
