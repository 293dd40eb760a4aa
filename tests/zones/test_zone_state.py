"""Zone counters on the wire (retained state/zones/<camera>) and on disk (across a restart), and
the reset_counts command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from node.clock import ManualClock
from node.commands import CommandDispatcher
from node.mqtt.topics import Topics
from node.zone_state import CountsFile, ZoneStatePublisher, register_zone_commands
from node.zones import CounterStore, Crossing, ZoneFrame
from node.zones.results import TrackRef
from schemas.config.commands import CommandsConfig
from schemas.zones import ZoneCountsState
from tests.commands.conftest import Recorder, cmd

LAYOUT = {"street": (["door"], ["cash"]), "yard": ([], ["bins"])}


class States:
    def __init__(self) -> None:
        self.published: dict[str, ZoneCountsState] = {}
        self.count = 0

    async def __call__(self, suffix: str, payload: str) -> None:
        self.published[suffix] = ZoneCountsState.model_validate_json(payload)
        self.count += 1


def crossing(direction: str = "in") -> ZoneFrame:
    ref = TrackRef(1, 1, "person", 0.9, np.zeros(4, np.float32))
    return ZoneFrame(0.0, crossings=[Crossing("door", direction, ref, 0.0)])  # type: ignore[arg-type]


def publisher(tmp_path: Path, clock: ManualClock) -> tuple[ZoneStatePublisher, States]:
    states = States()
    store = CounterStore(LAYOUT, clock.time)
    pub = ZoneStatePublisher(store, states, CountsFile(tmp_path / "zone_counts.json"), clock,
                             interval_s=1.0, save_every_s=10.0)  # fmt: skip
    pub.restore()
    return pub, states


async def test_publishes_every_camera_then_only_changes(tmp_path: Path) -> None:
    clock = ManualClock()
    pub, states = publisher(tmp_path, clock)
    await pub.publish()
    assert sorted(states.published) == ["state/zones/street", "state/zones/yard"]
    await pub.publish()
    assert states.count == 2  # nothing changed
    pub.store.record("street", crossing())
    await pub.publish()
    assert states.count == 3 and states.published["state/zones/street"].lines["door"].in_count == 1


async def test_counts_survive_a_restart_and_saves_are_rate_limited(tmp_path: Path) -> None:
    clock = ManualClock()
    pub, _ = publisher(tmp_path, clock)
    pub.store.record("street", crossing("in"))
    await pub.publish()
    assert not (tmp_path / "zone_counts.json").exists()  # less than save_every_s since start
    clock.advance(10)
    pub.store.record("street", crossing("out"))
    await pub.publish()
    saved = json.loads((tmp_path / "zone_counts.json").read_text())
    assert saved["cameras"]["street"]["lines"]["door"] == {"since": clock.time() - 10,
                                                           "in": {"person": 1},
                                                           "out": {"person": 1}}  # fmt: skip
    pub.store.record("street", crossing("in"))
    task = asyncio.create_task(pub.run())
    await asyncio.sleep(0)
    task.cancel()  # the node stopping: a last save at once
    with pytest.raises(asyncio.CancelledError):
        await task
    again, states = publisher(tmp_path, ManualClock(2e9))
    await again.publish()
    door = states.published["state/zones/street"].lines["door"]
    assert (door.in_count, door.out_count) == (2, 1)


async def test_unreadable_counts_file_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "zone_counts.json").write_text("{not json")
    pub, states = publisher(tmp_path, ManualClock())
    await pub.publish()
    assert states.published["state/zones/street"].lines["door"].in_count == 0
    assert (tmp_path / "zone_counts.bad").exists()


TOPICS = Topics("citywatch", "node-1")


def dispatcher(pub: ZoneStatePublisher, recorder: Recorder) -> CommandDispatcher:
    d = CommandDispatcher("node-1", TOPICS, CommandsConfig(), recorder, ManualClock())
    register_zone_commands(d, pub)
    return d


async def test_reset_counts_command(tmp_path: Path) -> None:
    pub, states = publisher(tmp_path, ManualClock())
    recorder = Recorder()
    d = dispatcher(pub, recorder)
    pub.store.record("street", crossing())
    await d.handle(cmd(TOPICS, "reset_counts", {"params": {"camera": "street", "line": "door"}}))
    assert recorder.last.json["data"] == {"reset": ["street/line/door"]}
    assert states.published["state/zones/street"].lines["door"].in_count == 0
    assert (tmp_path / "zone_counts.json").exists()  # saved at once
    await d.handle(cmd(TOPICS, "reset_counts", {}))
    assert len(recorder.last.json["data"]["reset"]) == 3


@pytest.mark.parametrize(
    ("params", "code"),
    [({"camera": "nowhere"}, "not_found"), ({"line": "nope"}, "not_found"),
     ({"line": "door", "zone": "cash"}, "invalid_params"), ({"lane": "door"}, "invalid_params")],
)  # fmt: skip
async def test_reset_counts_refusals(tmp_path: Path, params: dict[str, str], code: str) -> None:
    pub, _ = publisher(tmp_path, ManualClock())
    recorder = Recorder()
    d = dispatcher(pub, recorder)
    await d.handle(cmd(TOPICS, "reset_counts", {"params": params}))
    assert recorder.last.json["code"] == code
