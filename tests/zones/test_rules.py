"""Zone visits, loitering, overcrowding and wrong way on synthetic tracks (10 fps, debounce
0.5 s, objects 100 px tall, hysteresis margin 20 px). The zone is the square (400..600)^2."""

from __future__ import annotations

import numpy as np
import pytest

from node.zones import ZoneEngine, ZoneFrame, ZoneLayout
from schemas.config.zones import ZoneLogicConfig, ZoneRulesConfig
from tests.zones.tracks import Obj, Scene, walk

SQUARE = [(400.0, 400.0), (600.0, 400.0), (600.0, 600.0), (400.0, 600.0)]


def engine(logic: ZoneLogicConfig | None = None, **rules: object) -> ZoneEngine:
    layout = ZoneLayout(zones={"cash": SQUARE}, rules={"cash": ZoneRulesConfig(**rules)})
    return ZoneEngine(layout, logic or ZoneLogicConfig())


def stay(tid: int, x: float, y: float, n: int, **kw: object) -> list[Obj]:
    return [Obj(tid, x, y, **kw) for _ in range(n)]  # type: ignore[arg-type]


def transitions(frames: list[ZoneFrame]) -> list[tuple[int, str, int, float]]:
    """(frame index, direction, track id, t) of every zone transition."""
    return [(k, tr.direction, tr.track.track_id, round(tr.t, 3))
            for k, f in enumerate(frames) for tr in f.transitions]  # fmt: skip


def test_visit_is_debounced_and_dated_from_its_first_frame() -> None:
    path = stay(1, 300, 500, 20) + stay(1, 500, 500, 30) + stay(1, 700, 500, 20)
    frames = Scene().add(0, path).run(engine())
    # inside from frame 20 (t=2.0), member at frame 25; outside from frame 50, left at 55
    assert transitions(frames) == [(25, "in", 1, 2.0), (55, "out", 1, 5.0)]
    assert [f.occupancy["cash"] for f in frames[24:27]] == [{}, {"person": 1}, {"person": 1}]
    assert frames[-1].occupancy["cash"] == {}


def test_short_visits_and_edge_jitter_are_not_visits() -> None:
    rng = np.random.default_rng(3)
    brief = stay(1, 300, 500, 10) + stay(1, 500, 500, 4) + stay(1, 300, 500, 10)  # 0.4 s inside
    edge = [Obj(2, 400 + rng.normal(0, 4), 500) for _ in range(600)]  # on the edge for a minute
    frames = Scene().add(0, brief).add(0, edge).run(engine())
    assert transitions(frames) == []


def test_unconfirmed_objects_are_counted_in_once_confirmed() -> None:
    path = [Obj(1, 500, 500, confirmed=k >= 12) for k in range(20)]
    frames = Scene().add(0, path).run(engine())
    assert transitions(frames) == [(12, "in", 1, 0.0)]


def test_object_lost_inside_leaves_at_its_last_sighting() -> None:
    logic = ZoneLogicConfig(lost_grace_s=2.05)  # no tie with the 0.1 s frame times
    frames = Scene().add(0, stay(1, 500, 500, 30)).pad(30).run(engine(logic))
    # last seen at 2.9 s; gone once unseen for more than 2.05 s: at the frame of 5.0 s
    assert transitions(frames) == [(5, "in", 1, 0.0), (50, "out", 1, 2.9)]


def test_loitering_starts_after_threshold_and_ends_when_leaving() -> None:
    path = stay(1, 300, 500, 20) + stay(1, 500, 500, 180) + stay(1, 700, 500, 30)
    frames = Scene().add(0, path).run(engine(loitering_s=10))
    ongoing = [k for k, f in enumerate(frames) for lo in f.loitering if lo.ended_at is None]
    assert ongoing[0] == 120 and ongoing[-1] == 204  # entered 2.0 + 10 s; until the exit
    assert ongoing == list(range(120, 205))
    ended = [(k, lo) for k, f in enumerate(frames) for lo in f.loitering if lo.ended_at is not None]
    assert len(ended) == 1
    k, lo = ended[0]
    assert k == 205 and lo.ended_at == pytest.approx(20.0) and lo.entered_at == pytest.approx(2.0)
    assert lo.dwell_s == pytest.approx(18.0)


def test_a_visit_shorter_than_the_threshold_never_loiters() -> None:
    path = stay(1, 500, 500, 95) + stay(1, 700, 500, 10)  # 9.5 s inside
    frames = Scene().add(0, path).run(engine(loitering_s=10))
    assert all(not f.loitering for f in frames)


def test_loitering_ends_when_the_object_vanishes() -> None:
    frames = Scene().add(0, stay(1, 500, 500, 150)).pad(40).run(engine(loitering_s=10))
    ended = [lo for f in frames for lo in f.loitering if lo.ended_at is not None]
    assert [round(lo.ended_at or 0, 3) for lo in ended] == [14.9]


def test_loitering_survives_a_new_track_id() -> None:
    # lost at 8.0 s, found again 0.5 s later as track 2 at the same spot: one visit, one dwell
    s = Scene().add(0, stay(1, 500, 500, 80)).add(85, stay(2, 505, 500, 100))
    frames = s.run(engine(loitering_s=10))
    first = next(lo for f in frames for lo in f.loitering)
    assert first.track.track_id == 2 and first.track.origin == 1
    assert first.entered_at == 0.0 and first.dwell_s == pytest.approx(10.0)
    assert transitions(frames) == [(5, "in", 1, 0.0)]


def test_loitering_labels() -> None:
    s = Scene().add(0, stay(1, 500, 500, 150)).add(0, stay(2, 450, 450, 150, label="car"))
    frames = s.run(engine(loitering_s=10, labels=["car"]))
    assert {lo.track.label for f in frames for lo in f.loitering} == {"car"}


def crowd(frames: list[ZoneFrame]) -> list[tuple[int, int, float | None]]:
    return [(k, oc.count, oc.ended_at) for k, f in enumerate(frames) for oc in f.overcrowding]


def test_overcrowded_after_for_s_and_ends_when_back_at_the_limit() -> None:
    s = Scene()
    for tid, x in ((1, 450), (2, 500), (3, 550)):
        s.add(0, stay(tid, 300, 500, 10) + stay(tid, x, 500, 100))  # inside 1.0 .. 10.9 s
    s.add(0, stay(4, 300, 500, 10) + stay(4, 520, 520, 70) + stay(4, 700, 500, 40))  # 1.0..8.0 s
    frames = s.pad(40).run(engine(ZoneLogicConfig(lost_grace_s=2.05), max_occupancy=2, for_s=3))
    got = crowd(frames)
    # 4 members (at frame 15, dated from 1.0 s): over the limit since 1.0, event from 4.0 s
    assert got[0] == (40, 4, None)
    assert frames[40].overcrowding[0].since == pytest.approx(1.0)
    # the 4th object outside from 8.0 s, left at frame 85: 3 still over 2
    assert (84, 4, None) in got and (85, 3, None) in got
    # objects 1-3 last seen at 10.9 s; they leave then, found out at the frame of 13.0 s
    ((frame, count, ended),) = [g for g in got if g[2] is not None]
    assert (frame, count) == (130, 0) and ended == pytest.approx(10.9)
    assert all(not f.overcrowding for f in frames[131:])


def test_brief_crowd_shorter_than_for_s_raises_nothing() -> None:
    s = Scene()
    for tid in range(1, 5):
        s.add(0, stay(tid, 450 + 20 * tid, 500, 25) + stay(tid, 700, 500, 20))  # inside 2 s
    frames = s.run(engine(max_occupancy=2, for_s=3))
    assert crowd(frames) == []


def test_overcrowding_counts_only_its_labels() -> None:
    s = Scene()
    for tid in range(1, 4):
        s.add(0, stay(tid, 450 + 20 * tid, 500, 60, label="car"))
    s.add(0, stay(9, 500, 450, 60))
    frames = s.run(engine(max_occupancy=1, labels=["person"]))
    assert crowd(frames) == []
    assert frames[-1].occupancy["cash"] == {"car": 3, "person": 1}


def wrong(frames: list[ZoneFrame]) -> list[tuple[int, float]]:
    return [(w.track.track_id, round(w.heading_deg)) for f in frames for w in f.wrong_way]


def test_wrong_way_once_per_visit() -> None:
    s = Scene()
    s.add(0, walk(1, (450, 300), (450, 700), 80))  # down, against "up"
    s.add(0, walk(2, (550, 700), (550, 300), 80))  # up: allowed
    s.add(0, walk(3, (300, 500), (700, 500), 80))  # right: across, not against
    frames = s.run(engine(direction="up"))
    assert wrong(frames) == [(1, 90)]


def test_wrong_way_in_degrees_and_tolerance() -> None:
    s = Scene().add(0, walk(1, (300, 450), (700, 550), 80))  # heading 14 deg (right, a bit down)
    assert wrong(s.run(engine(direction=180))) == [(1, 14)]  # allowed: left
    assert wrong(s.run(engine(direction=180, direction_tolerance_deg=10))) == []


def test_jitter_in_place_is_no_heading() -> None:
    rng = np.random.default_rng(5)
    path = [Obj(1, 500 + rng.normal(0, 4), 500 + rng.normal(0, 4)) for _ in range(300)]
    assert wrong(Scene().add(0, path).run(engine(direction="up"))) == []


def test_wrong_way_again_on_a_new_visit() -> None:
    down = walk(1, (450, 300), (450, 700), 80)
    path = down + walk(1, (450, 700), (300, 300), 40) + down
    assert [t for t, _ in wrong(Scene().add(0, path).run(engine(direction="up")))] == [1, 1]
