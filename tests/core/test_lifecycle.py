from __future__ import annotations

import numpy as np

from node.analytics.base import Observation
from node.frame import Frame
from node.lifecycle import EventLifecycle
from schemas.events import Lifecycle
from tests.contract.recorded import typed_attributes

IMG = np.zeros((48, 64, 3), np.uint8)


def frame(t: float, i: int = 0) -> Frame:
    return Frame(camera="cam1", index=i, image=IMG, captured_at=1_700_000_000 + t, monotonic=t)


def obs(key: str = "1", score: float = 0.8, **kw: object) -> Observation:
    box = np.array([1, 2, 30, 40], np.float32)
    kw.setdefault("attributes", typed_attributes("object"))
    return Observation(key=key, type="object", label="person", score=score, box=box, **kw)  # type: ignore[arg-type]


def run(lc: EventLifecycle, seq: list[tuple[float, list[Observation]]]) -> list[tuple[str, str]]:
    out = []
    for t, observations in seq:
        for e in lc.observe(frame(t), observations):
            out.append((e.event.lifecycle.value, e.event.track_id))
    return out


def test_new_updates_rate_limited_then_end() -> None:
    lc = EventLifecycle("n1", "cam1", update_interval_s=1.0, end_after_s=2.0)
    seq = [(t / 10, [obs()]) for t in range(0, 31)]  # seen 0..3 s at 10 Hz
    seq += [(3.0 + t / 10, []) for t in range(1, 25)]  # gone
    events = run(lc, seq)
    kinds = [k for k, _ in events]
    assert kinds[0] == "new"
    assert kinds[-1] == "end"
    assert kinds.count("new") == 1 and kinds.count("end") == 1
    assert kinds.count("update") == 3  # at 1.0, 2.0, 3.0 s
    assert len({tid for _, tid in events}) == 1


def test_unconfirmed_observations_make_no_event() -> None:
    lc = EventLifecycle("n1", "cam1", update_interval_s=0.0, end_after_s=1.0)
    assert run(lc, [(0.0, [obs(confirmed=False)]), (0.5, [obs(confirmed=False)])]) == []


def test_stationary_objects_do_not_update() -> None:
    lc = EventLifecycle("n1", "cam1", update_interval_s=0.0, end_after_s=1.0)
    events = run(lc, [(0.0, [obs()])] + [(t, [obs(stationary=True)]) for t in (1.0, 2.0, 3.0)])
    assert [k for k, _ in events] == ["new"]


def test_two_keys_two_tracks_and_end_all() -> None:
    lc = EventLifecycle("n1", "cam1", update_interval_s=10.0, end_after_s=5.0)
    events = run(lc, [(0.0, [obs("a"), obs("b")])])
    assert [k for k, _ in events] == ["new", "new"]
    assert events[0][1] != events[1][1]
    ended = lc.end_all(1_700_000_001.0)
    assert {e.event.lifecycle for e in ended} == {Lifecycle.END}
    assert all(e.event.ended_at is not None for e in ended)
    assert lc.active == 0


def test_end_snapshot_is_best_frame() -> None:
    lc = EventLifecycle("n1", "cam1", update_interval_s=10.0, end_after_s=1.0)
    frames = [frame(0.0, 0), frame(0.1, 1), frame(0.2, 2)]
    lc.observe(frames[0], [obs(score=0.5)])
    lc.observe(frames[1], [obs(score=0.9)])
    lc.observe(frames[2], [obs(score=0.6)])
    (ended,) = lc.expire(5.0, 1_700_000_005.0)
    assert ended.frame is frames[1]
    assert ended.event.score == 0.6  # the last score; best frame kept for the snapshot


def test_instant_observations_are_one_new_event_each() -> None:
    lc = EventLifecycle("n1", "cam1", update_interval_s=0.0, end_after_s=1.0)
    events = run(lc, [(0.0, [obs(instant=True), obs(instant=True)]), (5.0, [])])
    assert [k for k, _ in events] == ["new", "new"]
    assert len({tid for _, tid in events}) == 2
    assert lc.active == 0  # nothing left open, nothing to end


def test_ended_at_ends_an_open_occurrence_at_that_time() -> None:
    lc = EventLifecycle("n1", "cam1", update_interval_s=10.0, end_after_s=30.0)
    lc.observe(frame(0.0), [obs()])
    (ended,) = lc.observe(frame(2.0), [obs(ended_at=1_700_000_001.5)])
    assert ended.event.lifecycle is Lifecycle.END
    assert ended.event.ended_at is not None and ended.event.ended_at.timestamp() == 1_700_000_001.5
    assert lc.active == 0
    assert lc.observe(frame(3.0), [obs(key="2", ended_at=1_700_000_003.0)]) == []  # never opened
