"""Movement counters: occurrences per action since the node started, on the retained
``state/movement/counts`` (HA's counter sensors, Node-RED)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from node.movement.events import EVENT_TYPE as MOVEMENT_EVENT
from schemas.events import Event, Lifecycle


@dataclass
class MovementCounter:
    """Occurrences per movement action since the node started, from the event stream: one per
    ``new`` ``movement`` event whose label is a counted action (a track's action that ends and
    comes back later is a second occurrence). Pure and synchronous; the bridge
    (``MovementCountsPublisher``) publishes ``payload()`` retained on ``state/movement/counts``
    at start and whenever ``observe`` returns True. HA's sensors are ``total_increasing``: the
    restart of a node (counts back to 0) reads as a meter reset, not as a negative count."""

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
