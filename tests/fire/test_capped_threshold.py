"""Thresholds chosen for F1 under a cap on false alarms of scene negatives."""

from __future__ import annotations

import numpy as np

from models.fire import metrics


def test_capped_threshold_respects_the_false_alarm_cap() -> None:
    # positives at 0.6-0.9; negatives: one at 0.7, the rest low
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    s = np.array([0.6, 0.7, 0.8, 0.9, 0.72, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    neg = ~y
    uncapped = metrics.best_f1_threshold(y, s)
    assert uncapped == 0.5
    capped = metrics.capped_f1_threshold(y, s, neg, max_false_alarm=0.0)
    assert capped == 0.73  # the first grid point above the loud negative
    assert metrics.capped_f1_threshold(y, s, neg, max_false_alarm=0.2) == 0.5
    # no quiet threshold on the grid: the ceiling
    assert metrics.capped_f1_threshold(y, np.where(neg, 0.99, s), neg, 0.0) == 0.95
