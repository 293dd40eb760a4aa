"""Home Assistant device-based MQTT discovery: one retained message describes the whole node.

Pure builders turn the node config into ``schemas.homeassistant.DeviceDiscovery`` (published on
``<discovery_prefix>/device/<node_id>/config``). The event entities come from what the enabled
analytics declare (``node.analytics.registry.event_types_for``): a new analytic needs no edit
here. Movement's ``event`` entities fire once per occurrence with the *action* as HA's
``event_type`` (``walk``/``run``/``fall``/``fight``); every other event entity's ``event_type``
is the lifecycle (``new``/``update``/``end``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from node import __version__
from node.homeassistant.presence import PRESENCE_SENSORS
from node.homeassistant.templates import (
    AVAILABILITY_TEMPLATE,
    EVENT_TYPES_LIFECYCLE,
    EVENT_VALUE_TEMPLATE,
    GATE_VALUE_TEMPLATE,
    identified_value_template,
    line_crossed_value_template,
    movement_counts_template,
    movement_value_template,
    set_command_template,
    stats_template,
    zone_count_template,
    zone_labels_template,
)
from node.movement.events import ESCALATING_ACTIONS, IDENTIFIED_EVENT_TYPE
from node.movement.events import EVENT_TYPE as MOVEMENT_EVENT
from node.mqtt.topics import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    MOVEMENT_COUNTS_SUFFIX,
    STATE_OFF,
    STATE_ON,
    Topics,
    gate_state_suffix,
    ha_discovery_topic,
    presence_state_suffix,
    toggle_state_suffix,
    zone_counts_suffix,
)
from node.notify.rules import FAILED_EVENT_TYPE
from node.zones.observations import LINE_CROSSED
from schemas.config import NodeConfig
from schemas.config.gate import GateMode, GateScope
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

MANUFACTURER = "citywatch"
MODEL = "citywatch edge node"
ORIGIN_NAME = "citywatch"
ORIGIN_URL = "https://github.com/citywatch/citywatch"


def ha_id(text: str) -> str:
    """An id HA's discovery accepts: characters outside ``[a-zA-Z0-9_-]`` become ``_``."""
    out = re.sub(r"[^a-zA-Z0-9_-]", "_", text)
    if not re.fullmatch(HA_ID_PATTERN, out):
        raise ValueError(f"cannot make a Home Assistant id from {text!r}")
    return out


def discovery_topic(discovery_prefix: str, node_id: str) -> str:
    return ha_discovery_topic(discovery_prefix, ha_id(node_id))


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
    # An image entity showing the latest explanation (the `explain` command, events).
    explain: bool = False
    # Notification rules exist: a `notification.failed` event entity and two diagnostic sensors
    # (failures, queued) read from `stats.notifications`.
    notifications: bool = False
    # Per camera drawing lines or zones, when the objects analytic runs: (camera, its line
    # names, its zone names): counter sensors on `state/zones/<camera>`.
    zone_counters: Sequence[tuple[str, Sequence[str], Sequence[str]]] = ()

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        *,
        analytics: Sequence[str] | None = None,
        event_types: Sequence[str] | None = None,
    ) -> DiscoverySpec:
        """``analytics``: the enabled ones unless given; ``event_types``: what those declare
        unless given."""
        # Lazy: the registry imports the analytics interface (numpy), unneeded otherwise.
        from node.analytics.registry import enabled_names, event_types_for

        if analytics is None:
            analytics = enabled_names(config)
        return cls(
            node_id=config.node_id,
            device_name=config.name or f"citywatch {config.node_id}",
            topics=Topics(config.mqtt.topic_prefix, config.node_id),
            cameras=[c.name for c in config.cameras],
            analytics=list(analytics),
            event_types=(
                list(event_types) if event_types is not None
                else event_types_for(config, analytics)
            ),
            qos=config.mqtt.qos,
            gate_keys=_gate_keys(config),
            movement_actions=(
                list(config.analytics.movement.actions) if "movement" in analytics else []
            ),
            explain=config.explain.enabled,
            notifications=config.notifications.enabled and bool(config.notifications.rules),
            zone_counters=[
                (c.name, [line.name for line in c.lines], sorted(c.zones))
                for c in config.cameras
                if "objects" in analytics and (c.lines or c.zones)
            ],
        )


def build_discovery(spec: DiscoverySpec) -> DeviceDiscovery:
    comps: dict[str, Component] = {}
    builders = (
        _event_components, _camera_components, _presence_components, _gate_components, _switches,
        _movement_counters, _explain_components, _zone_counters, _notification_components,
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
    if event_type == IDENTIFIED_EVENT_TYPE and escalating:
        return escalating, identified_value_template(escalating)
    if event_type == LINE_CROSSED:
        return ["in", "out"], line_crossed_value_template()
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


@dataclass(frozen=True)
class _ZoneSensor:
    field: str  # in ZoneCounts/LineCounts
    by_label: str
    name: str  # the entity's name after the line or zone
    state_class: Literal["measurement", "total_increasing"]
    icon: str


ZoneKind = Literal["lines", "zones"]
_ZONE_SENSORS: dict[ZoneKind, tuple[_ZoneSensor, ...]] = {
    "lines": (
        _ZoneSensor("in_count", "in_by_label", "in", "total_increasing", "mdi:arrow-right-bold"),
        _ZoneSensor("out_count", "out_by_label", "out", "total_increasing", "mdi:arrow-left-bold"),
    ),
    "zones": (
        _ZoneSensor("occupancy", "occupancy_by_label", "occupancy", "measurement",
                    "mdi:account-group"),
        _ZoneSensor("in_count", "in_by_label", "entries", "total_increasing", "mdi:login"),
    ),
}  # fmt: skip


def _zone_counters(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    """Per line: crossings in and out; per zone: occupancy and entries; each with its counts by
    label as attributes. ``total_increasing``: a ``reset_counts`` reads as a meter reset."""
    for cam, lines, zones in spec.zone_counters:
        topic = spec.topics.sub(zone_counts_suffix(cam))
        kinds: tuple[tuple[ZoneKind, Sequence[str]], ...] = (("lines", lines), ("zones", zones))
        for kind, names in kinds:
            for name in names:
                for sensor in _ZONE_SENSORS[kind]:
                    key = f"{ha_id(cam)}_{kind[:-1]}_{ha_id(name)}_{sensor.name}"
                    yield key, SensorComponent(
                        p="sensor",
                        unique_id=_uid(spec, key),
                        name=f"{cam} {name} {sensor.name}",
                        qos=spec.qos,
                        state_topic=topic,
                        value_template=zone_count_template(kind, name, sensor.field),
                        state_class=sensor.state_class,
                        icon=sensor.icon,
                        json_attributes_topic=topic,
                        json_attributes_template=zone_labels_template(kind, name, sensor.by_label),
                    )


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
                value_template=stats_template("cameras", cam, "fps"),
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
                    value_template=stats_template("cameras", cam, "inference_ms", analytic),
                    unit_of_measurement="ms",
                    state_class="measurement",
                    suggested_display_precision=1,
                    entity_category="diagnostic",
                ),
            )


def _explain_components(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    if spec.explain:
        yield (
            "explanation",
            ImageComponent(
                p="image",
                unique_id=_uid(spec, "explanation"),
                name="Latest explanation",
                qos=0,
                image_topic=spec.topics.explain_image,
                content_type="image/jpeg",
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
                state_topic=spec.topics.sub(gate_state_suffix(cam or None)),
                device_class="lock",
                value_template=GATE_VALUE_TEMPLATE,
                payload_on=STATE_ON,
                payload_off=STATE_OFF,
            ),
        )


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


def _notification_components(spec: DiscoverySpec) -> Iterable[tuple[str, Component]]:
    if not spec.notifications:
        return
    key = f"event_{ha_id(FAILED_EVENT_TYPE)}"
    yield (
        key,
        EventComponent(
            p="event",
            unique_id=_uid(spec, key),
            name="Notification failed",
            qos=spec.qos,
            state_topic=spec.topics.event(FAILED_EVENT_TYPE),
            event_types=EVENT_TYPES_LIFECYCLE,
            value_template=EVENT_VALUE_TEMPLATE,
        ),
    )
    sensors = (
        ("notification_failures", "Notification failures", "failed", "total_increasing",
         "mdi:message-alert"),
        ("notifications_queued", "Notifications queued", "queued", "measurement",
         "mdi:message-arrow-right"),
    )
    for key, name, field, state_class, icon in sensors:
        yield (
            key,
            SensorComponent(
                p="sensor",
                unique_id=_uid(spec, key),
                name=name,
                qos=0,
                state_topic=spec.topics.stats,
                value_template=stats_template("notifications", field),
                state_class=state_class,
                icon=icon,
                entity_category="diagnostic",
            ),
        )
