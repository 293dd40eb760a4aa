"""The authorisation gate, driven by a manual clock."""

from __future__ import annotations

import pytest

from node.clock import ManualClock
from node.face.gate import AuthorisationGate, GateChange
from schemas.attributes import GateAttributes
from schemas.config.gate import GateConfig, GateMode, GateScope
from schemas.events import Lifecycle


def _gate(**kw: object) -> tuple[AuthorisationGate, ManualClock, list[GateChange]]:
    clock = ManualClock()
    gate = AuthorisationGate(GateConfig(mode=GateMode.FACE, frames=3, ttl_s=10, **kw), clock)
    seen: list[GateChange] = []
    gate.add_listener(seen.append)
    return gate, clock, seen


def test_open_mode_is_always_open() -> None:
    gate = AuthorisationGate(GateConfig(mode=GateMode.OPEN), ManualClock())
    assert gate.is_open("cam") and gate.report("cam", []) == []
    assert gate.state().state == "open"


def test_opens_after_n_frames_in_a_row() -> None:
    gate, _, seen = _gate()
    assert gate.report("cam", ["ann"]) == []
    gate.report("cam", [])  # a gap restarts the count
    gate.report("cam", ["ann"])
    gate.report("cam", ["ann"])
    assert not gate.is_open("cam")
    (change,) = gate.report("cam", ["ann"])
    assert change.kind == "opened" and change.by == "ann" and seen == [change]
    assert gate.is_open("cam") and gate.is_open("other")  # node scope
    state = gate.state()
    assert state.state == "open" and state.by == "ann" and state.until is not None


def test_ttl_extends_while_present_then_closes() -> None:
    gate, clock, seen = _gate()
    for _ in range(3):
        gate.report("cam", ["ann"])
    clock.advance(8)
    gate.report("cam", ["ann"])  # still there: session now ends at 18
    clock.advance(8)
    assert gate.is_open("cam") and gate.tick() == []
    clock.advance(2.5)
    assert not gate.is_open("cam")  # a query never waits for a tick
    (closed,) = gate.tick("cam")
    assert closed.kind == "closed" and closed.reason == "expired"
    assert [c.kind for c in seen] == ["opened", "closed"]
    assert gate.state().state == "locked"


def test_revoke_closes_session_of_that_person() -> None:
    gate, _, _ = _gate()
    for _ in range(3):
        gate.report("cam", ["ann"])
    assert gate.revoke("bob") == []
    (closed,) = gate.revoke("ann")
    assert closed.reason == "revoked" and not gate.is_open("cam")


def test_camera_scope_unlocks_only_that_camera() -> None:
    gate, _, _ = _gate(scope=GateScope.CAMERA)
    for _ in range(3):
        gate.report("door", ["ann"])
    assert gate.is_open("door") and not gate.is_open("yard")
    assert gate.state("door").camera == "door"


@pytest.mark.parametrize("kind", ["opened", "closed"])
def test_change_is_an_event(kind: str) -> None:
    gate, clock, _ = _gate()
    for _ in range(3):
        gate.report("cam", ["ann"])
    clock.advance(11)
    changes = gate.tick("cam")
    opened = GateChange(**{**changes[0].__dict__, "kind": "opened"})
    change = opened if kind == "opened" else changes[0]
    ev = change.to_event("node1")
    assert ev.type == f"gate.{kind}"
    assert isinstance(ev.attributes, GateAttributes) and ev.attributes.by == "ann"
    assert ev.lifecycle is (Lifecycle.NEW if kind == "opened" else Lifecycle.END)
    assert ev.track_id == change.session_id
