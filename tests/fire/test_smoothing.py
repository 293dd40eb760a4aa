"""k-of-n alarm with hysteresis."""

from __future__ import annotations

import pytest

from node.fire.smoothing import KOfNAlarm, SmoothingParams


def run(alarm: KOfNAlarm, scores: list[float]) -> list[bool]:
    return [alarm.update(s) for s in scores]


def test_single_spike_does_not_raise() -> None:
    alarm = KOfNAlarm(SmoothingParams(k=3, n=5, on_threshold=0.6, off_threshold=0.45))
    assert run(alarm, [0.1, 0.99, 0.1, 0.1, 0.2, 0.1]) == [False] * 6


def test_raises_on_the_kth_hit_within_n() -> None:
    alarm = KOfNAlarm(SmoothingParams(k=3, n=5, on_threshold=0.6, off_threshold=0.45))
    # hits at frames 0, 2, 4: the third hit inside a window of 5 raises
    assert run(alarm, [0.7, 0.1, 0.8, 0.1, 0.9]) == [False, False, False, False, True]


def test_hits_spread_wider_than_n_do_not_raise() -> None:
    alarm = KOfNAlarm(SmoothingParams(k=3, n=4, on_threshold=0.6, off_threshold=0.45))
    assert not any(run(alarm, [0.7, 0.1, 0.1, 0.7, 0.1, 0.1, 0.7, 0.1]))


def test_hysteresis_holds_between_thresholds_and_clears_after_n_low_frames() -> None:
    alarm = KOfNAlarm(SmoothingParams(k=2, n=3, on_threshold=0.6, off_threshold=0.4, hold_k=1))
    assert run(alarm, [0.7, 0.7]) == [False, True]
    # 0.5 is below the raising threshold but above the holding one: stays on
    assert run(alarm, [0.5, 0.5, 0.5, 0.5]) == [True] * 4
    # below 0.4 for n=3 frames clears it
    assert run(alarm, [0.1, 0.1, 0.1]) == [True, True, False]
    # once cleared, 0.5 no longer raises it
    assert run(alarm, [0.5, 0.5, 0.5]) == [False] * 3


def test_reset_forgets_the_window() -> None:
    alarm = KOfNAlarm(SmoothingParams(k=2, n=3, on_threshold=0.6, off_threshold=0.4))
    run(alarm, [0.9, 0.9])
    assert alarm.active
    alarm.reset()
    assert not alarm.active and alarm.hits == 0
    assert alarm.update(0.9) is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0, "n": 3}, "k <= n"),
        ({"k": 4, "n": 3}, "k <= n"),
        ({"k": 2, "n": 3, "hold_k": 4}, "hold_k"),
        ({"k": 2, "n": 3, "on_threshold": 0.3, "off_threshold": 0.5}, "off_threshold"),
    ],
)
def test_params_are_validated(kwargs: dict[str, float], match: str) -> None:
    args = {"on_threshold": 0.6, "off_threshold": 0.4, **kwargs}
    with pytest.raises(ValueError, match=match):
        SmoothingParams(**args)  # type: ignore[arg-type]
