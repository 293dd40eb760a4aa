"""The Jinja templates Home Assistant renders on our payloads (discovery's ``value_template``,
``command_template``): pure strings, tested by rendering them as HA does. Attributes are read by
the keys their models declare (``schemas/attributes.py``), required ones without a fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from node.mqtt.topics import AVAILABILITY_OFFLINE, AVAILABILITY_ONLINE, STATE_OFF, STATE_ON
from schemas.events import Lifecycle

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

# `state/gate` carries the gate's JSON (`node.face.gate.GateState`); HA's `lock` class reads
# ON as unlocked, i.e. a session is open and gated analytics run.
GATE_VALUE_TEMPLATE = (
    "{{ '" + STATE_ON + "' if value_json.state == 'open' else '" + STATE_OFF + "' }}"
)


def _quoted_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


def movement_value_template(actions: Sequence[str]) -> str:
    """``movement`` events -> HA event with ``event_type`` = the action, once per occurrence
    (``new``); ``update``/``end`` and unknown labels render empty, which HA ignores."""
    return (
        "{% if value_json.lifecycle == 'new' and value_json.label in " + _quoted_list(actions)
        + " %}{{ {'event_type': value_json.label, 'camera': value_json.camera, "
        "'score': value_json.score, 'severity': value_json.severity, "
        "'person': value_json.attributes.track_id, 'track_id': value_json.track_id, "
        "'event_id': value_json.event_id} | tojson }}{% endif %}"
    )


def identified_value_template(actions: Sequence[str]) -> str:
    """``movement.identified`` -> HA event with ``event_type`` = the action (fall/fight) and the
    people identified by their faces as attributes."""
    return (
        "{% if value_json.lifecycle == 'new' and value_json.label in " + _quoted_list(actions)
        + " %}{{ {'event_type': value_json.label, 'camera': value_json.camera, "
        "'identities': value_json.attributes.identities, "
        "'unknown_faces': value_json.attributes.unknown_faces, "
        "'people': value_json.attributes.people, "
        "'event_id': value_json.event_id} | tojson }}{% endif %}"
    )


def line_crossed_value_template() -> str:
    """``line.crossed`` -> HA event with ``event_type`` = the direction (``in``/``out``)."""
    return (
        "{{ {'event_type': value_json.attributes.direction, 'camera': value_json.camera, "
        "'line': value_json.attributes.line, 'label': value_json.label, "
        "'track': value_json.attributes.track, 'event_id': value_json.event_id} | tojson }}"
    )


def zone_count_template(kind: Literal["lines", "zones"], name: str, field: str) -> str:
    """One count of one line or zone in ``state/zones/<camera>`` (``None`` when missing)."""
    return "{{ value_json.get('" + kind + "', {}).get('" + name + "', {}).get('" + field + "') }}"


def zone_labels_template(kind: Literal["lines", "zones"], name: str, field: str) -> str:
    """The same count by label, as the entity's attributes."""
    return (
        "{{ value_json.get('" + kind + "', {}).get('" + name + "', {}).get('" + field
        + "', {}) | tojson }}"
    )


def movement_counts_template(action: str) -> str:
    return "{{ value_json.get('counts', {}).get('" + action + "') }}"


def stats_template(*path: str) -> str:
    # .get() chains so a camera or analytic missing from one stats message renders `None`,
    # which HA's sensor treats as "unknown" instead of logging a template error.
    expr = "value_json" + "".join(f".get('{p}', {{}})" for p in path[:-1]) + f".get('{path[-1]}')"
    return "{{ " + expr + " }}"


def set_command_template(target: Literal["camera", "analytic"], name: str) -> str:
    """HA renders this with ``value`` = ``ON``/``OFF`` into our ``set`` command envelope."""
    params = (
        '{"target": "' + target + '", "name": "' + name + '", '
        "\"enabled\": {{ 'true' if value == '" + STATE_ON + "' else 'false' }}}"
    )
    return '{"request_id": "ha-{{ now().timestamp() | int }}", "params": ' + params + "}"
