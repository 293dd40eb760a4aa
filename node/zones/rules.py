"""The per-zone rules over the confirmed members of each zone: loitering, overcrowding, wrong way,
and the occupancy by label. Each step reads and writes the ``TrackTable`` rows alive now."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from node.zones.geometry import heading_deg, unit_vector
from node.zones.results import Direction, Loitering, Overcrowding, WrongWay, ZoneFrame
from node.zones.table import F64, I64, Bool, TrackTable
from schemas.config.zones import ZoneLogicConfig, ZoneRulesConfig


@dataclass
class _Crowd:
    since: float = math.nan  # when the count went over the limit (NaN: it is not over)
    active: bool = False


class ZoneRuleSet:
    """The rules of a camera's zones (in ``zone_names`` order), compiled to arrays."""

    def __init__(
        self, zone_names: Sequence[str], rules: Sequence[ZoneRulesConfig], logic: ZoneLogicConfig
    ) -> None:
        self.names = tuple(zone_names)
        self.rules = list(rules)
        self.logic = logic
        self.labels = [frozenset(r.labels) for r in rules]
        self.loiter_s = np.asarray(
            [r.loitering_s if r.loitering_s is not None else np.inf for r in rules], np.float64
        )
        self.crowd_zones = [i for i, r in enumerate(rules) if r.max_occupancy is not None]
        self._crowds = {i: _Crowd() for i in self.crowd_zones}
        self.heading = [r.heading_deg for r in rules]
        self.directed = np.asarray([h is not None for h in self.heading], np.bool_)
        self.against = np.asarray(  # unit vector of the forbidden heading, per zone
            [unit_vector(h + 180.0) if h is not None else (0.0, 0.0) for h in self.heading],
            np.float64,
        ).reshape(-1, 2)
        self.cos_tolerance = np.cos(np.radians([r.direction_tolerance_deg for r in rules]))

    def reset(self) -> None:
        self._crowds = {i: _Crowd() for i in self.crowd_zones}

    def applies(self, label: str) -> list[bool]:
        """Per zone: whether its rules apply to ``label``."""
        return [not ls or label in ls for ls in self.labels]

    def loitering(
        self, tb: TrackTable, live: I64, members: Bool, t: float, out: ZoneFrame
    ) -> None:
        """A confirmed visit longer than ``loitering_s``: reported every frame while it lasts,
        then once more, ended, when the visit ends (``left`` holds when). ``members``: per
        ``live`` row and zone, whether it is a confirmed member the zone's rules apply to."""
        was = tb.loitering[live]
        now = members & (t - tb.entered[live] >= self.loiter_s)
        if not (was.any() or now.any()):
            return
        tb.loitering[live] = now
        for i, z in zip(*np.nonzero(was & ~now), strict=True):
            row = int(live[i])
            left, entered = float(tb.left[row, z]), float(tb.entered[row, z])
            dwell = left - entered
            out.loitering.append(Loitering(self.names[z], tb.ref(row), entered, dwell, left))
        for i, z in zip(*np.nonzero(now), strict=True):
            row = int(live[i])
            entered = float(tb.entered[row, z])
            out.loitering.append(Loitering(self.names[z], tb.ref(row), entered, t - entered))

    def overcrowding(
        self, tb: TrackTable, live: I64, members: Bool, t: float, out: ZoneFrame
    ) -> None:
        """More than ``max_occupancy`` confirmed members for ``for_s``: reported every frame
        while it lasts, then once, ended, when the count is back at the limit."""
        if not self.crowd_zones:
            return
        counts = members.sum(axis=0).tolist()
        for z in self.crowd_zones:
            rule, crowd = self.rules[z], self._crowds[z]
            limit = rule.max_occupancy
            assert limit is not None
            if counts[z] > limit:
                if math.isnan(crowd.since):
                    crowd.since = _changed_at(out, self.names[z], "in", t)
                crowd.active = crowd.active or t - crowd.since >= rule.for_s
                if crowd.active:
                    out.overcrowding.append(self._crowd(tb, live[members[:, z]], z, None))
            elif crowd.active or not math.isnan(crowd.since):
                if crowd.active:
                    ended = _changed_at(out, self.names[z], "out", t)
                    out.overcrowding.append(self._crowd(tb, live[members[:, z]], z, ended))
                self._crowds[z] = _Crowd()

    def _crowd(self, tb: TrackTable, rows: I64, z: int, ended_at: float | None) -> Overcrowding:
        by_label: dict[str, int] = {}
        for lab in tb.label[rows].tolist():
            by_label[tb.labels[lab]] = by_label.get(tb.labels[lab], 0) + 1
        box = None
        if len(rows):
            b = tb.box[rows]
            box = np.asarray([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()],
                             np.float32)  # fmt: skip
        limit = self.rules[z].max_occupancy
        assert limit is not None
        since = self._crowds[z].since
        return Overcrowding(self.names[z], len(rows), limit, by_label, since, box, ended_at)

    def wrong_way(
        self, tb: TrackTable, live: I64, rows: I64, heights: F64, t: float, out: ZoneFrame
    ) -> None:
        """A confirmed member of a zone with a direction, seen now, whose smoothed velocity
        heads within the tolerance of the forbidden heading, far enough to count: once per
        visit."""
        tb.wrong[live] &= tb.counted[live]  # a new visit may raise it again
        if not self.directed.any() or len(rows) == 0:
            return
        eligible = tb.counted[rows] & tb.rule_ok[rows] & self.directed & ~tb.wrong[rows]
        some = np.flatnonzero(eligible.any(axis=1))
        if len(some) == 0:
            return
        rows, heights, eligible = rows[some], heights[some], eligible[some]
        vel = tb.velocity[rows]
        speed = np.hypot(vel[:, 0], vel[:, 1])
        moving = (speed * self.logic.direction_window_s >= self.logic.direction_min_travel
                  * heights) & (speed > 0)  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = (vel @ self.against.T) / speed[:, None]
        wrong = eligible & moving[:, None] & (cos >= self.cos_tolerance)
        if not wrong.any():
            return
        tb.wrong[rows] |= wrong
        for i, z in zip(*np.nonzero(wrong), strict=True):
            allowed = self.heading[z]
            assert allowed is not None
            ref = tb.ref(int(rows[i]))
            out.wrong_way.append(WrongWay(self.names[z], ref, heading_deg(*vel[i]), allowed, t))

    def occupancy(self, tb: TrackTable, live: I64) -> dict[str, dict[str, int]]:
        """Zone -> label -> confirmed members now."""
        n_labels = len(tb.labels)
        by_label = tb.label[live][:, None] == np.arange(n_labels)  # (n, labels)
        counts = by_label.T.astype(np.int64) @ tb.counted[live].astype(np.int64)  # (labels, Z)
        occupancy: dict[str, dict[str, int]] = {name: {} for name in self.names}
        for k, z in zip(*np.nonzero(counts), strict=True):
            occupancy[self.names[z]][tb.labels[k]] = int(counts[k, z])
        return occupancy


def _changed_at(out: ZoneFrame, zone: str, direction: Direction, t: float) -> float:
    """When the count of ``zone`` changed this frame: visits are dated from their first frame
    inside (outside), so the crowd is too."""
    times = [tr.t for tr in out.transitions if tr.zone == zone and tr.direction == direction]
    return max(times, default=t)
