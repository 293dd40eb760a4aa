"""Classification and localisation metrics in plain numpy (no sklearn dependency)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def prf1(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[float, float, float]:
    """Precision, recall and F1 of binary predictions (0 when undefined)."""
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    tp = float(np.sum(t & p))
    fp = float(np.sum(~t & p))
    fn = float(np.sum(t & ~p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def roc_auc(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve via the Mann-Whitney U statistic (ties count one half);
    ``None`` when only one class is present."""
    t = np.asarray(y_true, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[t], s[~t]
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def confusion(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, int]:
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    return {
        "tp": int(np.sum(t & p)),
        "fp": int(np.sum(~t & p)),
        "fn": int(np.sum(t & ~p)),
        "tn": int(np.sum(~t & ~p)),
    }


def best_f1_threshold(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, floor: float = 0.5, ceiling: float = 0.95
) -> float:
    """The threshold in [floor, ceiling] (0.01 steps) that maximises F1; ``floor`` if there are no
    positives. The floor keeps the operating point conservative: false alarms cost more than a
    late alarm, and the k-of-n smoothing recovers recall."""
    t = np.asarray(y_true, dtype=bool)
    if not t.any():
        return floor
    s = np.asarray(scores, dtype=np.float64)
    grid = np.round(np.arange(floor, ceiling + 1e-9, 0.01), 2)
    f1s = [prf1(t, s >= g)[2] for g in grid]
    return float(grid[int(np.argmax(f1s))])


def capped_f1_threshold(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    negatives: npt.ArrayLike,
    max_false_alarm: float,
    floor: float = 0.5,
    ceiling: float = 0.95,
) -> float:
    """Like ``best_f1_threshold``, but only among thresholds at which at most ``max_false_alarm``
    of the ``negatives`` (a mask of scene-level negative images) score at or above it; the
    ceiling when no threshold on the grid is that quiet. False alarms are what makes an
    operator switch an alarm off, so they bound the operating point first."""
    t = np.asarray(y_true, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    neg = np.asarray(negatives, dtype=bool)
    grid = np.round(np.arange(floor, ceiling + 1e-9, 0.01), 2)
    quiet = [g for g in grid if not neg.any() or float(np.mean(s[neg] >= g)) <= max_false_alarm]
    if not quiet:
        return float(ceiling)
    if not t.any():
        return float(quiet[0])
    f1s = [prf1(t, s >= g)[2] for g in quiet]
    return float(quiet[int(np.argmax(f1s))])


def enclosing(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    arr = np.asarray(boxes, dtype=np.float64)
    return (
        float(arr[:, 0].min()),
        float(arr[:, 1].min()),
        float(arr[:, 2].max()),
        float(arr[:, 3].max()),
    )
