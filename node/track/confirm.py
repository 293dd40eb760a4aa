"""Decide when a track becomes an event, and when it is stationary.

* confirmed: seen in at least ``min_hits`` analysed frames with the median of its recent scores
  at or over ``min_median_score``; once confirmed a track stays confirmed (a dip in score must
  not end and re-open the event).
* stationary: its box has stayed within ``stationary_iou`` of an anchor box for
  ``stationary_after_s``; a stationary object does not re-alert (no updates) until it moves.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou


@dataclass(frozen=True)
class ConfirmParams:
    min_hits: int = 3
    min_median_score: float = 0.4
    score_window: int = 15  # recent scores the median is taken over
    stationary_after_s: float = 30.0  # 0 disables stationary detection
    stationary_iou: float = 0.85  # IoU with the anchor box that still counts as "not moved"
    forget_after_s: float = 60.0  # drop the state of ids unseen this long


@dataclass(frozen=True)
class TrackStatus:
    hits: int
    median_score: float
    confirmed: bool
    stationary: bool
    age_s: float  # since first seen


@dataclass
class _State:
    first_seen: float
    last_seen: float
    anchor_box: npt.NDArray[np.float32]
    anchor_time: float
    scores: deque[float] = field(default_factory=deque)
    hits: int = 0
    confirmed: bool = False


class TrackConfirmer:
    def __init__(self, params: ConfirmParams | None = None) -> None:
        self.params = params or ConfirmParams()
        self._states: dict[int, _State] = {}

    def reset(self) -> None:
        self._states.clear()

    def observe(
        self,
        track_id: int,
        box: npt.NDArray[np.float32],
        score: float,
        t: float,
        min_median_score: float | None = None,
    ) -> TrackStatus:
        """Record one sighting of ``track_id`` at time ``t``; return its status.

        ``min_median_score`` overrides the default threshold (per-label thresholds).
        """
        p = self.params
        threshold = p.min_median_score if min_median_score is None else min_median_score
        st = self._states.get(track_id)
        if st is None:
            st = _State(first_seen=t, last_seen=t, anchor_box=box.copy(), anchor_time=t)
            st.scores = deque(maxlen=max(1, p.score_window))
            self._states[track_id] = st
        st.last_seen = t
        st.hits += 1
        st.scores.append(score)
        median = float(np.median(np.asarray(st.scores)))
        if not st.confirmed and st.hits >= p.min_hits and median >= threshold:
            st.confirmed = True
        moved = float(box_iou(st.anchor_box[None], box[None])[0, 0]) < p.stationary_iou
        if moved:
            st.anchor_box, st.anchor_time = box.copy(), t
        stationary = p.stationary_after_s > 0 and t - st.anchor_time >= p.stationary_after_s
        return TrackStatus(
            hits=st.hits,
            median_score=median,
            confirmed=st.confirmed,
            stationary=stationary,
            age_s=t - st.first_seen,
        )

    def prune(self, t: float) -> None:
        """Forget ids unseen for ``forget_after_s`` (bounded memory on a long-running node)."""
        cutoff = t - self.params.forget_after_s
        for tid in [k for k, s in self._states.items() if s.last_seen < cutoff]:
            del self._states[tid]
