"""PresenceTracker: the event stream -> ON/OFF for the fire, person and authorised sensors."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from node.homeassistant.presence import PresenceTracker
from node.mqtt.topics import presence_state_suffix
from schemas.events import Event, Lifecycle
from tests.contract.recorded import recorded_attributes

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def ev(type_: str, lc: Lifecycle, track: str = "t1", camera: str = "front", **kw: Any) -> Event:
    """An event with the attributes the node recorded for its type, ``authorised`` changed."""
    changes = {"authorised": kw.pop("authorised")} if "authorised" in kw else {}
    return Event(
        node_id="n1",
        camera=camera,
        type=type_,
        track_id=track,
        lifecycle=lc,
        started_at=T0,
        ended_at=T0 if lc is Lifecycle.END else None,
        score=0.8,
        label=kw.pop("label", type_),
        attributes=recorded_attributes(type_, **changes),
        **kw,
    )


FIRE = presence_state_suffix("fire")
PERSON = presence_state_suffix("person")
AUTH = presence_state_suffix("authorised")
N, U, E = Lifecycle.NEW, Lifecycle.UPDATE, Lifecycle.END


@pytest.mark.parametrize(
    ("events", "changes"),
    [
        # one occurrence: ON at new, nothing at update, OFF at end
        ([ev("fire", N), ev("fire", U), ev("fire", E)], [{FIRE: "ON"}, {}, {FIRE: "OFF"}]),
        # smoke counts as fire; two overlapping occurrences: OFF only when both ended
        (
            [ev("fire", N), ev("smoke", N, "s1"), ev("fire", E), ev("smoke", E, "s1")],
            [{FIRE: "ON"}, {}, {}, {FIRE: "OFF"}],
        ),
        # same track id on two cameras are two occurrences
        (
            [ev("fire", N), ev("fire", N, camera="back"), ev("fire", E)],
            [{FIRE: "ON"}, {}, {}],
        ),
        # person by label (object detector) or in labels
        (
            [ev("object", N, label="person"), ev("object", E, label="person")],
            [{PERSON: "ON"}, {PERSON: "OFF"}],
        ),
        ([ev("object", N, label="backpack")], [{}]),
        # authorised only when the recognised face is authorised
        (
            [
                ev("face.recognized", N, authorised=False),
                ev("face.recognized", N, "t2", authorised=True),
                ev("face.recognized", E, "t2", authorised=True),
            ],
            [{}, {AUTH: "ON"}, {AUTH: "OFF"}],
        ),
        # an end for an occurrence never seen opening changes nothing
        ([ev("fire", E)], [{}]),
    ],
)
def test_presence_changes(events: list[Event], changes: list[dict[str, str]]) -> None:
    tracker = PresenceTracker()
    assert tracker.initial_states() == {FIRE: "OFF", PERSON: "OFF", AUTH: "OFF"}
    assert [tracker.observe(e) for e in events] == changes


def test_a_line_crossed_by_a_person_leaves_presence_alone() -> None:
    """One-off events are never ended: if they opened presence it would stay ON for ever."""
    tracker = PresenceTracker()
    assert tracker.observe(ev("line.crossed", N, label="person")) == {}
    assert tracker.observe(ev("object", N, label="person")) == {PERSON: "ON"}
    assert tracker.observe(ev("object", E, label="person")) == {PERSON: "OFF"}
