"""Presence from the event stream: ``ON``/``OFF`` per kind (fire, person, authorised person) on
the retained ``state/presence/<kind>``, read by HA's binary sensors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from node.face.events import FACE_RECOGNIZED
from node.fire.events import EVENT_TYPES as FIRE_EVENT_TYPES
from node.mqtt.topics import STATE_OFF, STATE_ON, presence_state_suffix
from node.zones.observations import INSTANT_EVENT_TYPES
from schemas.attributes import FaceRecognizedAttributes
from schemas.events import Event, Lifecycle

PresenceKind = Literal["fire", "person", "authorised"]

# binary_sensor per presence kind: (entity name, HA device_class)
PRESENCE_SENSORS: dict[PresenceKind, tuple[str, str]] = {
    "fire": ("Fire or smoke", "smoke"),
    "person": ("Person", "occupancy"),
    "authorised": ("Authorised person", "presence"),
}


def _is_fire(event: Event) -> bool:
    return event.type in FIRE_EVENT_TYPES


def _is_person(event: Event) -> bool:
    # A one-off (a line crossed) opens nothing: it is never ended, so it would stay ON.
    if event.type in INSTANT_EVENT_TYPES:
        return False
    return event.label == "person" or "person" in event.labels


def _is_authorised(event: Event) -> bool:
    attrs = event.attributes
    return (
        event.type == FACE_RECOGNIZED
        and isinstance(attrs, FaceRecognizedAttributes)
        and attrs.authorised
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
    ``new``/``update`` open it, ``end`` closes it. Pure and synchronous; the bridge
    publishes what ``observe`` returns (retained) and ``initial_states`` at start.
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
