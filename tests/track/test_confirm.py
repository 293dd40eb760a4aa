from __future__ import annotations

import numpy as np

from node.track.confirm import ConfirmParams, TrackConfirmer

BOX = np.array([10, 10, 50, 100], dtype=np.float32)


def test_confirmed_after_min_hits_with_median_over_threshold_and_stays() -> None:
    c = TrackConfirmer(ConfirmParams(min_hits=3, min_median_score=0.5))
    statuses = [c.observe(1, BOX, s, t) for t, s in enumerate([0.9, 0.2, 0.8, 0.1, 0.1, 0.1])]
    assert [s.confirmed for s in statuses] == [False, False, True, True, True, True]
    assert statuses[2].median_score == 0.8


def test_low_median_never_confirms_and_per_label_threshold() -> None:
    c = TrackConfirmer(ConfirmParams(min_hits=2, min_median_score=0.5))
    assert not any(c.observe(1, BOX, 0.3, t).confirmed for t in range(10))
    assert c.observe(2, BOX, 0.3, 0).confirmed is False
    assert c.observe(2, BOX, 0.3, 1, min_median_score=0.25).confirmed is True


def test_stationary_after_still_period_and_cleared_by_moving() -> None:
    c = TrackConfirmer(ConfirmParams(min_hits=1, stationary_after_s=10.0))
    assert not c.observe(1, BOX, 0.9, 0.0).stationary
    assert not c.observe(1, BOX + 1, 0.9, 9.0).stationary  # jitter within IoU 0.85
    assert c.observe(1, BOX, 0.9, 10.0).stationary
    assert not c.observe(1, BOX + 40, 0.9, 11.0).stationary  # it moved: new anchor
    assert c.observe(1, BOX + 40, 0.9, 21.0).stationary


def test_prune_forgets_old_ids() -> None:
    c = TrackConfirmer(ConfirmParams(min_hits=2, forget_after_s=5.0))
    c.observe(1, BOX, 0.9, 0.0)
    c.prune(10.0)
    assert c.observe(1, BOX, 0.9, 10.0).hits == 1
