"""The running rule (issue 6): ground covered per step, whatever the video's playback rate.

Gait measurements on synthetic walkers and runners with a known cadence and step length, then
the whole run decision (bundled classifier + rule, k-of-n vote like the analytic) on random
synthetic walkers and runners at 0.5x, 1x and 2x playback (``models/movement/run_check.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from models.movement.run_check import rate
from models.movement.synth import Camera, gait_sequence
from node.movement.classifier import DEFAULT_SIDECAR, MovementClassifier
from node.movement.features import Series, resample
from node.movement.gait import (
    GaitEvidence,
    RunParams,
    gait_cadence,
    gait_evidence,
    observed_steps,
    running,
)
from node.movement.pose import KP

RATE = 8.0
SIDE = Camera(yaw=np.pi / 2, elevation=0.2, scale=180.0, origin=(320.0, 300.0), noise=0.005,
              dropout=0.05, frame_drop=0.0)


def _window(s: Series) -> Series:
    return resample(s, float(s.times[-1]), RATE, 24)


@pytest.mark.parametrize(("running_", "freq", "hip", "playback"), [
    (False, 0.9, 0.4, 1.0), (False, 1.0, 0.35, 2.0), (False, 0.8, 0.45, 0.7),
    (True, 1.4, 0.7, 1.0), (True, 1.5, 0.6, 0.5), (True, 1.3, 0.8, 0.4),
])
def test_cadence_and_stride_of_a_side_view_gait(running_: bool, freq: float, hip: float,
                                                playback: float) -> None:
    """Cadence (steps per video second) within 15 %, step length within 20 % of the truth."""
    rng = np.random.default_rng(int(freq * 100 + hip * 10 + playback * 1000))
    s, cadence, step = gait_sequence(rng, running_, freq, hip, playback, SIDE, 3.5, 10.0)
    ev = gait_evidence(_window(s), RATE)
    assert ev.cadence == pytest.approx(cadence, rel=0.15)
    assert ev.stride == pytest.approx(step, rel=0.2)


def test_cadence_survives_left_right_swaps() -> None:
    """Pose models often mix up left and right in side views: with the labels swapped in a
    random half of the frames the left-right separation has no rhythm left, and the cadence
    comes from the swap-blind signals (ankle and knee spread, box aspect), once per step."""
    rng = np.random.default_rng(11)
    s, cadence, _ = gait_sequence(rng, True, 1.4, 0.7, 0.5, SIDE, 3.5, 10.0)
    kps = s.keypoints.copy()
    swap = rng.random(len(s)) < 0.5
    for a in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"):
        la, ra = KP[f"left_{a}"], KP[f"right_{a}"]
        kps[swap, la], kps[swap, ra] = s.keypoints[swap, ra], s.keypoints[swap, la]
    swapped = Series(s.times, s.boxes, kps)
    got, strength = gait_cadence(_window(swapped), RATE)
    assert got == pytest.approx(cadence, rel=0.15), f"rhythm {strength:.2f}"


def test_a_young_track_is_measured_on_what_was_seen() -> None:
    """A track seen for 2 s of a 3 s window: the held first second (``resample``) is left out,
    so neither speed nor cadence is diluted by it."""
    s, cadence, step = gait_sequence(np.random.default_rng(12), True, 1.4, 0.7, 1.0, SIDE,
                                     2.0, 10.0)
    grid = _window(s)
    assert observed_steps(grid) == 7  # 1 s at 8 Hz before the first sample, then the sample
    ev = gait_evidence(grid, RATE)
    assert ev.speed == pytest.approx(cadence * step, rel=0.2)
    assert ev.cadence == pytest.approx(cadence, rel=0.15)


def test_stride_does_not_depend_on_playback_but_speed_does() -> None:
    """The same jog in slow motion (0.5x) and at real time: half the speed and half the
    cadence in video time, the same step length."""
    ev = {}
    for pb in (0.5, 1.0):
        s, _, _ = gait_sequence(np.random.default_rng(3), True, 1.4, 0.6, pb, SIDE, 3.5, 10.0)
        ev[pb] = gait_evidence(_window(s), RATE)
    assert ev[0.5].speed == pytest.approx(0.5 * ev[1.0].speed, rel=0.15)
    assert ev[0.5].stride is not None and ev[1.0].stride is not None
    assert ev[0.5].stride == pytest.approx(ev[1.0].stride, rel=0.15)


def test_depth_speed_is_a_lower_bound_towards_the_camera() -> None:
    """A runner straight towards a pinhole camera (focal 180 px/height x 10 heights = 1800 px)
    barely moves across the picture; the box's growth gives the depth speed, bounded below by
    the widest lens (f = 0.5 x frame width)."""
    cam = Camera(yaw=np.pi / 2, elevation=0.1, scale=180.0, origin=(320.0, 300.0), noise=0.003,
                 dropout=0.0, frame_drop=0.0, distance=10.0)
    s, cadence, step = gait_sequence(np.random.default_rng(4), True, 1.4, 0.7, 1.0, cam, 3.5,
                                     10.0, heading=-np.pi / 2)
    true_speed = cadence * step
    no_width = gait_evidence(_window(s), RATE)
    with_width = gait_evidence(_window(s), RATE, frame_width=1920.0)
    assert no_width.speed_depth == 0.0
    assert no_width.speed_plane < 0.3 * true_speed
    assert 0.2 * true_speed < with_width.speed_depth <= true_speed * 1.1
    assert with_width.speed > no_width.speed


def test_a_box_changing_height_alone_is_not_depth_motion() -> None:
    """Someone half hidden by a passer-by, crouching or raising an arm: the box height changes
    but its width does not (or the other way round) -- no motion in depth."""
    n = 24
    t = np.arange(n, dtype=np.float32) / RATE
    h = 200.0 * (1 + 0.5 * t / t[-1])  # 50 % taller in 3 s
    boxes = np.stack([np.full(n, 100.0), 400 - h, np.full(n, 180.0), np.full(n, 400.0)],
                     axis=1).astype(np.float32)
    kps = np.zeros((n, 17, 3), np.float32)
    ev = gait_evidence(Series(t, boxes, kps), RATE, frame_width=1920.0)
    assert ev.speed_depth == 0.0
    grown = boxes.copy()
    grown[:, 2] = 100.0 + 80.0 * (1 + 0.5 * t / t[-1])  # width grows with the height
    assert gait_evidence(Series(t, grown, kps), RATE, frame_width=1920.0).speed_depth > 0.5


def test_no_rhythm_no_cadence() -> None:
    """A person standing still (noise only) has no measurable gait."""
    rng = np.random.default_rng(5)
    s, _, _ = gait_sequence(rng, False, 0.9, 0.4, 1.0, SIDE, 3.5, 10.0)
    n = len(s)
    still = Series(s.times, np.repeat(s.boxes[:1], n, axis=0),
                   np.repeat(s.keypoints[:1], n, axis=0))
    still.keypoints[:, :, :2] += rng.normal(0, 0.5, still.keypoints[:, :, :2].shape)
    cadence, _ = gait_cadence(_window(still), RATE)
    assert cadence is None
    assert gait_evidence(_window(still), RATE).stride is None


def test_running_decision() -> None:
    p = RunParams()
    long_steps = GaitEvidence(1.2, 1.2, 0.0, 2.0, 0.8)  # 0.6 heights per step
    short_steps = GaitEvidence(1.2, 1.2, 0.0, 4.0, 0.8)  # 0.3: fast small steps
    unknown = GaitEvidence(1.2, 1.2, 0.0, None, 0.1)
    head_on = GaitEvidence(0.2, 0.1, 0.17, 2.5, 0.8)  # little ground speed measurable
    assert running(long_steps, 0.9, 0.0, p)
    assert not running(long_steps, 0.4, 5.0, p)  # the classifier must say run
    assert not running(short_steps, 0.9, 1.2, p)  # 1.2 heights/s, but 0.3 per step
    assert running(head_on, 0.9, 1.5, p)  # limbs sweeping 0.6 heights per step
    assert not running(head_on, 0.9, 0.5, p)
    assert running(unknown, 0.9, 1.2, p)  # no rhythm: the per-second fallback
    assert not running(unknown, 0.9, 0.8, p)
    with pytest.raises(ValueError):
        RunParams(min_stride=0.0)


@pytest.fixture(scope="module")
def clf() -> MovementClassifier:
    return MovementClassifier.load(DEFAULT_SIDECAR)


N = 20


@pytest.mark.parametrize("playback", [0.5, 2.0])
def test_synthetic_walk_in_slow_motion_or_time_lapse_is_not_running(
        playback: float, clf: MovementClassifier) -> None:
    """Random walkers (any path angle, random camera and noise) at 0.5x and 2x: at most 1 in
    20 judged running by the vote of the analytic."""
    new, _ = rate("walk", playback, N, clf, seed=4242)
    assert new <= 1 / N, f"walk at {playback}x: {new:.2f} judged running"


@pytest.mark.parametrize("playback", [0.5, 1.0])
def test_synthetic_run_in_slow_motion_or_real_time_is_running(
        playback: float, clf: MovementClassifier) -> None:
    """Random runners whose path is within 60 degrees of the image plane, at 0.5x and 1x: at
    least 80 % judged running (head-on paths are harder: docs/movement.md)."""
    new, _ = rate("run", playback, N, clf, seed=4343, angles_deg=(0.0, 60.0))
    assert new >= 0.8, f"run at {playback}x: only {new:.2f} judged running"
