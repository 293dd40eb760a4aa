"""CounterStore: in/out per line, zone and label, live occupancy, reset, dump/load."""

from __future__ import annotations

import numpy as np
import pytest

from node.clock import ManualClock
from node.zones import CounterStore, Crossing, ZoneFrame, ZoneTransition
from node.zones.results import Direction, TrackRef

LAYOUT = {"street": (["door", "gate"], ["cash"]), "yard": ([], ["bins"])}


def ref(label: str = "person", tid: int = 1) -> TrackRef:
    return TrackRef(tid, tid, label, 0.9, np.zeros(4, np.float32))


def crossing(line: str, direction: Direction, label: str = "person") -> Crossing:
    return Crossing(line, direction, ref(label), 0.0)


def visit(zone: str, direction: Direction, label: str = "person") -> ZoneTransition:
    return ZoneTransition(zone, direction, ref(label), 0.0)


def store() -> tuple[CounterStore, ManualClock]:
    clock = ManualClock(1000.0)
    return CounterStore(LAYOUT, clock.time), clock


def test_counts_by_direction_and_label() -> None:
    s, _ = store()
    frame = ZoneFrame(
        1.0,
        crossings=[crossing("door", "in"), crossing("door", "in", "car"), crossing("door", "out")],
        transitions=[visit("cash", "in"), visit("cash", "in")],
        occupancy={"cash": {"person": 2}},
    )
    assert s.record("street", frame)
    st = s.state("street")
    door = st.lines["door"]
    assert (door.in_count, door.out_count) == (2, 1)
    assert door.in_by_label == {"car": 1, "person": 1} and door.out_by_label == {"person": 1}
    assert st.lines["gate"].in_count == 0
    cash = st.zones["cash"]
    assert (cash.in_count, cash.out_count, cash.occupancy) == (2, 0, 2)
    assert cash.occupancy_by_label == {"person": 2}


def test_record_reports_changes_only() -> None:
    s, _ = store()
    occupied = ZoneFrame(1.0, occupancy={"cash": {"person": 1}})
    assert s.record("street", occupied)
    assert not s.record("street", ZoneFrame(1.1, occupancy={"cash": {"person": 1}}))
    assert not s.record("nowhere", occupied)
    assert s.take_dirty() == ["street", "yard"]  # all at first, then what changed
    assert s.take_dirty() == []
    s.record("street", ZoneFrame(1.2, crossings=[crossing("gate", "out")]))
    assert s.take_dirty() == ["street"]


def test_reset_all_one_camera_one_line() -> None:
    s, clock = store()
    s.record("street", ZoneFrame(1.0, crossings=[crossing("door", "in"), crossing("gate", "in")],
                                 transitions=[visit("cash", "in")],
                                 occupancy={"cash": {"person": 1}}))  # fmt: skip
    clock.advance(60)
    assert s.reset("street", "line", "door") == ["street/line/door"]
    st = s.state("street")
    assert st.lines["door"].in_count == 0 and st.lines["door"].since == 1060.0
    assert st.lines["gate"].in_count == 1 and st.lines["gate"].since == 1000.0
    everything = ["street/line/door", "street/line/gate", "street/zone/cash", "yard/zone/bins"]
    assert s.reset() == everything
    st = s.state("street")
    assert st.zones["cash"].in_count == 0
    assert st.zones["cash"].occupancy == 1  # what is inside now stays


@pytest.mark.parametrize(
    ("camera", "kind", "name", "match"),
    [("nowhere", None, None, "unknown camera"), ("street", "line", "cash", "no line named"),
     (None, None, "nope", "no line or zone named")],
)  # fmt: skip
def test_reset_unknown_names(camera: str | None, kind: str | None, name: str | None,
                             match: str) -> None:  # fmt: skip
    s, _ = store()
    with pytest.raises(KeyError, match=match):
        s.reset(camera, kind, name)  # type: ignore[arg-type]


def test_dump_and_load_survive_a_restart() -> None:
    s, _ = store()
    s.record("street", ZoneFrame(1.0, crossings=[crossing("door", "in"), crossing("door", "out")],
                                 transitions=[visit("cash", "in")],
                                 occupancy={"cash": {"person": 1}}))  # fmt: skip
    dumped = s.dump()
    # the restarted node: a line renamed (gate -> exit), a camera gone
    again = CounterStore({"street": (["door", "exit"], ["cash"])}, ManualClock(5000.0).time)
    again.load(dumped)
    st = again.state("street")
    assert (st.lines["door"].in_count, st.lines["door"].out_count) == (1, 1)
    assert st.lines["door"].since == 1000.0
    assert st.lines["exit"].in_count == 0 and st.lines["exit"].since == 5000.0
    assert st.zones["cash"].in_count == 1
    assert st.zones["cash"].occupancy == 0  # live, never persisted


@pytest.mark.parametrize(
    "bad",
    [{"version": 99}, {"version": 1, "cameras": {"street": {"lines": {"door": {"in": {}}}}}},
     {"version": 1, "cameras": {"street": {"lines": {"door": {"since": "x"}}}}},
     {"version": 1, "cameras": ["street"]}],
)  # fmt: skip
def test_load_refuses_malformed_dumps(bad: dict[str, object]) -> None:
    s, _ = store()
    with pytest.raises(ValueError, match="zone counts"):
        s.load(bad)
