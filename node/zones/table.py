"""Per-track state of the zone engine, one row per object, in parallel numpy arrays.

Rows, not dicts: each frame the engine gathers the rows of the tracks it sees, updates every
line and zone of every track in a few vectorised operations, and scatters them back. A row
outlives its track id for ``lost_grace_s``, so the row of an object re-found under a new id by
the tracker can be linked to its old row (``locate``) and continue it (the engine merges them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from node.zones.results import TrackRef

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

_INITIAL_ROWS = 64


class TrackTable:
    """Rows of per-track state. Per line, the signed distance (positive on the "in" side, 0
    while not yet known) and segment position where the anchor last settled; per zone
    ``member`` (debounced), ``pending`` (when the raw state started to differ, NaN if it does
    not), ``entered``/``left`` times, ``counted`` (the visit was counted in), ``loitering``,
    ``wrong`` (the visit already raised a wrong-way event)."""

    def __init__(self, n_lines: int, n_zones: int) -> None:
        self.n_lines = n_lines
        self.n_zones = n_zones
        self.rows: dict[int, int] = {}  # track id -> row
        self.labels: list[str] = []  # label registry; rows hold indices into it
        self._label_index: dict[str, int] = {}
        self._allocate(_INITIAL_ROWS)

    def _allocate(self, n: int) -> None:
        lz, z = (n, self.n_lines), (n, self.n_zones)
        self.alive: Bool = np.zeros(n, np.bool_)
        self.tid: I64 = np.zeros(n, np.int64)
        self.origin: I64 = np.zeros(n, np.int64)
        self.label: I64 = np.zeros(n, np.int64)
        self.born: F64 = np.zeros(n, np.float64)
        self.last_seen: F64 = np.zeros(n, np.float64)
        self.anchor: F64 = np.zeros((n, 2), np.float64)
        self.box: npt.NDArray[np.float32] = np.zeros((n, 4), np.float32)
        self.height: F64 = np.zeros(n, np.float64)
        self.score: F64 = np.zeros(n, np.float64)
        self.confirmed: Bool = np.zeros(n, np.bool_)
        self.velocity: F64 = np.zeros((n, 2), np.float64)
        self.line_ok: Bool = np.zeros(lz, np.bool_)
        # Signed distance (its sign is the side; 0 until settled) and segment position where
        # the anchor last settled on a side of each line, and where it first did.
        self.side_dist: F64 = np.zeros(lz, np.float64)
        self.side_along: F64 = np.zeros(lz, np.float64)
        self.first_dist: F64 = np.zeros(lz, np.float64)
        self.first_along: F64 = np.zeros(lz, np.float64)
        self.rule_ok: Bool = np.zeros(z, np.bool_)
        self.member: Bool = np.zeros(z, np.bool_)
        self.pending: F64 = np.full(z, np.nan, np.float64)
        self.pending_any: Bool = np.zeros(n, np.bool_)  # some pending is not NaN
        self.entered: F64 = np.zeros(z, np.float64)
        self.left: F64 = np.zeros(z, np.float64)
        self.counted: Bool = np.zeros(z, np.bool_)
        self.loitering: Bool = np.zeros(z, np.bool_)
        self.wrong: Bool = np.zeros(z, np.bool_)
        self._free = list(range(n - 1, -1, -1))

    def _grow(self) -> None:
        old = {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        n = len(self.alive)
        self._allocate(2 * n)
        for name, arr in old.items():
            getattr(self, name)[:n] = arr
        self._free = list(range(2 * n - 1, n - 1, -1))

    def label_id(self, label: str) -> int:
        idx = self._label_index.get(label)
        if idx is None:
            idx = self._label_index[label] = len(self.labels)
            self.labels.append(label)
        return idx

    def locate(
        self,
        ids: Sequence[int],
        labels: Sequence[str],
        anchors: F64,
        heights: F64,
        t: float,
        grace_s: float,
        handover_distance: float,
        taken: set[int],
    ) -> tuple[I64, list[int], list[tuple[int, int]]]:
        """The row of each track (a fresh one for a track the table does not know), the
        indices (into ``ids``) of the fresh ones, and for each fresh row the lost row it may
        continue, as ``(fresh row, lost row)``: the nearest row of its label unseen for at most
        ``grace_s``, within ``handover_distance`` box heights of where that object would be
        now, and not in ``taken`` (already claimed by another fresh row)."""
        rows = np.fromiter((self.rows.get(i, -1) for i in ids), np.int64, len(ids))
        unknown = np.flatnonzero(rows < 0)
        fresh: list[int] = []
        links: list[tuple[int, int]] = []
        if len(unknown) == 0:
            return rows, fresh, links
        unseen = t - self.last_seen
        lost = np.flatnonzero(self.alive & (unseen > 0) & (unseen <= grace_s))
        lost = np.setdiff1d(lost, np.asarray(sorted(taken), np.int64), assume_unique=True)
        for i in unknown.tolist():
            label = self.label_id(labels[i])
            before = self._nearest_lost(lost, label, anchors[i], heights[i], handover_distance, t)
            row = self._new_row(ids[i], label, t)
            if before >= 0:
                lost = lost[lost != before]
                links.append((row, before))
            fresh.append(i)
            self.rows[ids[i]] = row
            self.tid[row] = ids[i]
            rows[i] = row
        return rows, fresh, links

    def predecessor(
        self, row: int, t: float, grace_s: float, distance: float, taken: set[int]
    ) -> int:
        """For a row whose first candidate predecessor turned out to be another object: the
        nearest other lost row that may be its object's past, or -1."""
        unseen = t - self.last_seen
        lost = np.flatnonzero(
            self.alive & (unseen > 0) & (unseen <= grace_s) & (self.born < self.born[row])
        )
        lost = np.setdiff1d(lost, np.asarray(sorted(taken | {row}), np.int64), assume_unique=True)
        label = int(self.label[row])
        return self._nearest_lost(lost, label, self.anchor[row], self.height[row], distance, t)

    def _nearest_lost(
        self, lost: I64, label: int, anchor: F64, height: float, distance: float, t: float
    ) -> int:
        """The lost row of ``label`` whose object, carried on at its last velocity, would now
        be nearest to ``anchor``, if within ``distance`` box heights; else -1."""
        if len(lost) == 0 or distance <= 0:
            return -1
        cand = lost[self.label[lost] == label]
        if len(cand) == 0:
            return -1
        unseen = (t - self.last_seen[cand])[:, None]
        predicted = self.anchor[cand] + self.velocity[cand] * unseen
        gap = np.hypot(*(predicted - anchor[None, :]).T)
        reach = distance * np.maximum(self.height[cand], height)
        ok = gap <= reach
        if not ok.any():
            return -1
        return int(cand[ok][np.argmin(gap[ok])])

    def _new_row(self, track_id: int, label: int, t: float) -> int:
        if not self._free:
            self._grow()
        row = self._free.pop()
        self._clear(row)
        self.alive[row] = True
        self.origin[row] = track_id
        self.label[row] = label
        self.born[row] = t
        return row

    def _clear(self, row: int) -> None:
        for arr in (self.confirmed, self.line_ok, self.side_dist, self.side_along,
                    self.first_dist, self.first_along, self.rule_ok,
                    self.member, self.entered, self.left, self.counted, self.loitering,
                    self.wrong, self.velocity):  # fmt: skip
            arr[row] = 0
        self.pending[row] = np.nan
        self.pending_any[row] = False

    def free(self, rows: I64) -> None:
        for row in rows.tolist():
            self.rows.pop(int(self.tid[row]), None)
            self.alive[row] = False
            self._free.append(row)

    def clear(self) -> None:
        self.free(np.flatnonzero(self.alive))

    def live_rows(self) -> I64:
        return np.flatnonzero(self.alive)

    def ref(self, row: int) -> TrackRef:
        """The object of ``row`` as events name it."""
        return TrackRef(
            track_id=int(self.tid[row]),
            origin=int(self.origin[row]),
            label=self.labels[int(self.label[row])],
            score=float(self.score[row]),
            box=self.box[row].copy(),
        )
