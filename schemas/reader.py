"""The reader side of the event contract: what a consumer (a city platform, a bridge, a script)
uses to read ``citywatch/<node>/events/<type>``.

``parse_event`` reads one payload into an ``Event`` whose ``attributes`` is the typed model of its
``type`` (``FaceRecognizedAttributes`` for ``face.recognized``, ...); ``EventReader`` also drops the
repeats that at-least-once delivery brings (same ``event_id``). Any ``1.x`` event is read: fields
a newer minor version added are kept in ``model_extra``, and a type this version does not know
comes with plain ``EventAttributes``. Another major version is refused with
``UnsupportedVersionError``. ``examples/consumer.py`` shows it over MQTT.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from schemas.attributes import (
    EVENT_TYPES,
    EventAttributes,
    FaceRecognizedAttributes,
    FaceUnknownAttributes,
    FireAttributes,
    GateAttributes,
    IdentifiedPerson,
    LineCrossedAttributes,
    MovementAttributes,
    MovementIdentifiedAttributes,
    NotificationFailedAttributes,
    ObjectAttributes,
    SyntheticAttributes,
    ZoneLoiteringAttributes,
    ZoneOvercrowdedAttributes,
    ZoneWrongWayAttributes,
)
from schemas.events import Box, Event, Lifecycle, Severity
from schemas.version import SCHEMA_VERSION, UnsupportedVersionError, readable_version

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "Box",
    "Event",
    "EventAttributes",
    "EventReader",
    "FaceRecognizedAttributes",
    "FaceUnknownAttributes",
    "FireAttributes",
    "GateAttributes",
    "IdentifiedPerson",
    "Lifecycle",
    "LineCrossedAttributes",
    "MovementAttributes",
    "MovementIdentifiedAttributes",
    "NotificationFailedAttributes",
    "ObjectAttributes",
    "Severity",
    "SyntheticAttributes",
    "UnsupportedVersionError",
    "ZoneLoiteringAttributes",
    "ZoneOvercrowdedAttributes",
    "ZoneWrongWayAttributes",
    "parse_event",
]


def parse_event(payload: bytes | str | Mapping[str, Any]) -> Event:
    """One event from its MQTT payload (JSON bytes or text) or an already decoded mapping.

    Raises ``UnsupportedVersionError`` for another major version (checked first, so the message
    says so rather than listing the fields that changed), ``pydantic.ValidationError`` for a
    payload that is not a ``1.x`` event; both are ``ValueError``\\s."""
    data: Any = json.loads(payload) if isinstance(payload, (bytes, str)) else dict(payload)
    if not isinstance(data, dict):
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    readable_version(data.get("schema_version"))
    return Event.model_validate(data)


class EventReader:
    """``parse_event`` plus de-duplication: delivery is at least once, so the same ``event_id``
    can arrive twice (a PUBACK lost with the connection); ``read`` returns None the second time.
    Remembers the last ``remember`` ids (a repeat comes soon after the original)."""

    def __init__(self, remember: int = 10_000) -> None:
        if remember < 1:
            raise ValueError(f"remember must be >= 1, got {remember}")
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.read_count = 0
        self.duplicates = 0

    def read(self, payload: bytes | str | Mapping[str, Any]) -> Event | None:
        event = parse_event(payload)
        if event.event_id in self._seen:
            self._seen.move_to_end(event.event_id)
            self.duplicates += 1
            return None
        self._seen[event.event_id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        self.read_count += 1
        return event
