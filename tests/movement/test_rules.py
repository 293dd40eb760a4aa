"""Fall state machine (descent + lying = fall; sitting, bending, walking = no fall) and the
pairwise fight rule. Sequences come from the synthetic generator and hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest

from models.movement.synth import fall_sequence, make_sample
from node.movement.rules import (
    FallMachine,
    FallParams,
    FallState,
    FightParams,
    fighting_pairs,
    sustained,
)


def _box(x: float, top: float, w: float, h: float) -> np.ndarray:
    return np.asarray([x, top, x + w, top + h], np.float32)


def _run(machine: FallMachine, boxes: list[np.ndarray | None], rate: float = 8.0) -> FallState:
    state = machine.state
    for i, b in enumerate(boxes):
        t = i / rate
        state = (machine.update(t, b) if b is not None else machine.missing(t)).state
    return state


def test_fast_descent_then_lying_is_a_fall() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    falling = [_box(100, 100 + 40 * k, 60 + 30 * k, 200 - 40 * k) for k in range(1, 4)]
    lying = [_box(80, 240, 190, 60)] * 12
    m = FallMachine()
    assert _run(m, standing + falling + lying) is FallState.FALLEN
    st = m.status(3.9)
    assert st.descent_speed > 1.0 and st.drop > 0.35 and st.time_on_ground_s >= 1.0


def test_lying_too_briefly_is_not_yet_a_fall() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    falling = [_box(100, 100 + 40 * k, 60 + 30 * k, 200 - 40 * k) for k in range(1, 4)]
    lying = [_box(80, 240, 190, 60)] * 4  # 0.5 s
    assert _run(FallMachine(), standing + falling + lying) is FallState.GROUND


def test_sitting_down_is_not_a_fall() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    sitting = [_box(100, 100 + 12 * k, 70, 200 - 12 * k) for k in range(1, 6)]
    seated = [_box(100, 160, 80, 140)] * 24
    assert _run(FallMachine(), standing + sitting + seated) is FallState.UPRIGHT


def test_getting_up_before_ground_s_cancels() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    down = [_box(80, 240, 190, 60)] * 4
    assert _run(FallMachine(), standing + down + standing) is FallState.UPRIGHT


def test_vanishing_after_a_fast_descent_counts_unless_it_left_the_picture() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    falling = [_box(100, 100 + 50 * k, 60, 200 - 50 * k) for k in range(1, 3)]
    m = FallMachine()
    assert _run(m, standing + falling + [None] * 10) is FallState.FALLEN
    m2 = FallMachine()
    _run(m2, standing + falling)
    for i in range(10):
        m2.missing(3.0 + i / 8, left_picture=True)
    assert m2.state is FallState.UPRIGHT  # left the picture while down: cancelled, not paused
    # ... so a track found again later, lying, does not finish a stale fall
    m2.update(5.0, _box(80, 240, 190, 60))
    assert m2.state is FallState.UPRIGHT


def test_stream_ending_on_the_ground_confirms_with_at_end() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    falling = [_box(100, 100 + 40 * k, 60 + 30 * k, 200 - 40 * k) for k in range(1, 4)]
    lying = [_box(80, 240, 190, 60)] * 2  # 0.25 s on the ground, then the clip ends
    m = FallMachine()
    assert _run(m, standing + falling + lying) is FallState.GROUND
    st = m.finish(2.6)
    assert st.fallen and st.at_end and st.time_on_ground_s < 1.0
    # a descent that never reached the ground is not confirmed by the end of the stream
    m2 = FallMachine()
    _run(m2, [*standing, _box(100, 140, 60, 160), _box(100, 180, 60, 120)])  # crouched
    assert m2.state is FallState.DESCENDING
    assert not m2.finish(2.1).fallen
    # nor is anyone upright
    m3 = FallMachine()
    _run(m3, standing)
    assert not m3.finish(2.0).fallen


def test_crawling_away_on_the_floor_cancels() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    falling = [_box(100, 100 + 40 * k, 60 + 30 * k, 200 - 40 * k) for k in range(1, 4)]
    crawl = [_box(80 + 25 * k, 240, 190, 60) for k in range(12)]  # 200 px/s = 1 height/s
    assert _run(FallMachine(), standing + falling + crawl) is FallState.UPRIGHT
    settle = [_box(80 - 3 * k, 240, 190 + 6 * k, 60) for k in range(12)]  # box grows in place
    assert _run(FallMachine(), standing + falling + settle) is FallState.FALLEN


@pytest.mark.parametrize(
    ("after", "kwargs", "at_most_falls", "at_least_falls"),
    [("lying 3 s", {}, 20, 16), ("up after 0.5 s", {"get_up_after": 0.5}, 0, 0),
     ("crawling away at 1 height/s", {"crawl_speed": 1.0}, 2, 0)],
)
def test_synthetic_fall_then(after: str, kwargs: dict[str, float], at_most_falls: int,
                             at_least_falls: int) -> None:
    """20 seeded synthetic falls (side view, random build, speed and direction) followed by
    lying for 3 s, getting up 0.5 s after landing, or crawling away (measured: 18, 0, 1)."""
    falls = 0
    for seed in range(20):
        s = fall_sequence(np.random.default_rng(seed), 6.0, 8.0, 2.0, **kwargs)
        m = FallMachine()
        for t, b in zip(s.times, s.boxes, strict=True):
            m.update(float(t), b)
        falls += m.state is FallState.FALLEN
    assert at_least_falls <= falls <= at_most_falls, f"{after}: {falls}/20 falls"


def test_synthetic_fall_at_the_end_of_the_stream() -> None:
    """The clip ends 1.5 s after the fall starts (just after landing): ``finish`` confirms
    most (measured 17/20); the same falls stopped right at their start are never confirmed."""
    landed, started = 0, 0
    for seed in range(20):
        s = fall_sequence(np.random.default_rng(seed), 6.0, 8.0, 2.0)
        for cut, counter in ((3.5, "landed"), (2.1, "started")):
            m = FallMachine()
            keep = s.times <= cut
            for t, b in zip(s.times[keep], s.boxes[keep], strict=True):
                m.update(float(t), b)
            if m.finish(cut).fallen:
                if counter == "landed":
                    landed += 1
                else:
                    started += 1
    assert landed >= 15, f"{landed}/20 confirmed at the end"
    assert started == 0


def test_slow_slump_needs_the_classifier() -> None:
    standing = [_box(100, 100, 60, 200)] * 16
    slump = [_box(100, 100 + 8 * k, 60 + 10 * k, 200 - 8 * k) for k in range(1, 11)]
    lying = [_box(60, 240, 200, 60)] * 12
    assert _run(FallMachine(), standing + slump + lying) is FallState.UPRIGHT
    m = FallMachine()
    for i, b in enumerate(standing + slump + lying):
        m.update(i / 8, b, fall_prob=0.8 if i >= 16 else 0.0)
    assert m.state is FallState.FALLEN


@pytest.mark.parametrize(
    ("label", "kind", "expect_fall"),
    [("fall", None, True), ("other", "sit", False), ("other", "bend", False),
     ("other", "kick", False), ("walk", None, False), ("run", None, False),
     ("still", None, False)],
)
def test_synthetic_sequences(label: str, kind: str | None, expect_fall: bool) -> None:
    """Over 40 seeded synthetic sequences each (random camera, speed, direction, noise): the box
    rules alone confirm most falls (31/40 measured with the round-3 generator; steep top-down
    views of a lying body keep it tall, which the classifier must cover) and never confirm
    sitting, bending, walking."""
    outcomes = []
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        s = make_sample(label, rng, 6.0, 8.0, kind=kind)
        m = FallMachine(FallParams())
        fell = False
        for t, b in zip(s.track.times, s.track.boxes, strict=True):
            fell |= m.update(float(t), b).fallen
        outcomes.append(fell)
    hits = sum(outcomes)
    if expect_fall:
        assert hits >= 20, f"{label}: {hits}/40 confirmed"
    else:
        assert hits <= 1, f"{label}/{kind}: {hits}/40 false falls"


def test_fight_pairs_need_closeness_motion_and_classifier() -> None:
    boxes = np.asarray([[60, 100, 140, 300], [140, 100, 220, 300], [860, 100, 940, 300]],
                       np.float32)
    fast = np.asarray([1.0, 1.0, 1.0], np.float32)
    prob = np.asarray([0.9, 0.2, 0.9], np.float32)
    p = FightParams()
    assert fighting_pairs(boxes, fast, prob, p) == [(0, 1)]
    slow = np.asarray([0.1, 0.1, 0.1], np.float32)
    assert fighting_pairs(boxes, slow, prob, p) == []
    calm = np.asarray([0.1, 0.1, 0.1], np.float32)
    assert fighting_pairs(boxes, fast, calm, p) == []


def test_one_person_boxed_twice_is_no_fight() -> None:
    """A detector double (two tracks on one body, IoU ~0.9) is not a pair of people."""
    boxes = np.asarray([[100, 100, 180, 300], [104, 104, 182, 300]], np.float32)
    fast = np.asarray([1.0, 1.0], np.float32)
    prob = np.asarray([0.9, 0.9], np.float32)
    assert fighting_pairs(boxes, fast, prob, FightParams()) == []
    grappling = np.asarray([[100, 100, 180, 300], [150, 110, 230, 300]], np.float32)
    assert fighting_pairs(grappling, fast, prob, FightParams()) == [(0, 1)]


def test_sustained() -> None:
    assert sustained(np.asarray([1, 0, 1, 1, 1], bool), 4)
    assert not sustained(np.asarray([1, 0, 1, 0, 1], bool), 4)


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        FallParams(low_height=0.9, recover_height=0.8)
