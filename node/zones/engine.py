"""``ZoneEngine``: one camera's lines and zone rules applied to its tracked objects.

Per frame (``update(tracked, confirmed, t)``), every object is located by the bottom-centre of its
box, and:

* **lines**: its side of each line settles only once the anchor is ``hysteresis`` box heights
  past it (half that at a track's first sighting, which has no earlier side); a change of
  settled side is a crossing when the path between the two settled positions cuts the segment
  itself (walking round an end is not). Crossings of a track not yet confirmed wait for its
  confirmation and are dropped if it never comes;
* **zones**: membership changes once the anchor has been inside (outside), by more than the
  same ``hysteresis`` margin from the edge, for ``zone_debounce_s``, dated from the first frame
  it was; a confirmed member is counted in once per visit;
* an object unseen for more than ``lost_grace_s`` has left (at its last sighting); a new track
  appearing where it would be now is linked to it and, once the tracker has given the old id up,
  continues it (``node.zones.handover``), so a re-found object is neither counted again nor
  loses its dwell time;
* **rules**: loitering (a visit longer than ``loitering_s``), overcrowding (more than
  ``max_occupancy`` members for ``for_s``) and wrong way (the smoothed velocity within
  ``direction_tolerance_deg`` of the opposite of the allowed heading, once per visit).

Pure and synchronous: the caller passes the frame time; nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from node.detect.detections import Detections
from node.detect.zones import PolygonSet, as_polygon
from node.zones.geometry import LineSet, heading_deg, unit_vector
from node.zones.handover import Handover, merge_lines, merge_zones
from node.zones.results import (
    Crossing,
    Direction,
    Loitering,
    Overcrowding,
    TrackRef,
    WrongWay,
    ZoneFrame,
    ZoneTransition,
)
from node.zones.table import F64, I64, Bool, TrackTable
from schemas.config.camera import CameraConfig
from schemas.config.zones import LineConfig, ZoneLogicConfig, ZoneRulesConfig


@dataclass(frozen=True)
class ZoneLayout:
    """What a camera draws: lines, zone polygons and the rules of some zones."""

    lines: Sequence[LineConfig] = ()
    zones: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)
    rules: Mapping[str, ZoneRulesConfig] = field(default_factory=dict)

    @classmethod
    def from_camera(cls, camera: CameraConfig) -> ZoneLayout:
        return cls(camera.lines, camera.zones, camera.zone_rules)

    @property
    def empty(self) -> bool:
        return not self.lines and not self.zones


@dataclass
class _Crowd:
    since: float = math.nan  # when the count went over the limit (NaN: it is not over)
    active: bool = False


class ZoneEngine:
    def __init__(
        self,
        layout: ZoneLayout,
        logic: ZoneLogicConfig | None = None,
        *,
        handover_after_s: float = 0.0,
    ) -> None:
        """``handover_after_s``: the tracker's own ``lost_after_s``. Until then the tracker may
        still re-find a lost object under its old id, so a new id seen meanwhile is another
        object (a child in a pushchair first detected while its parent is missed for a frame)
        and must not take the lost row over."""
        self.logic = logic or ZoneLogicConfig()
        self._handover = Handover(
            handover_after_s, self.logic.lost_grace_s, self.logic.handover_distance
        )
        self.lines = LineSet.of(layout.lines)
        self._line_labels = [frozenset(ln.labels) for ln in layout.lines]
        self.zone_names = tuple(sorted(layout.zones))
        self._polygons = PolygonSet.of([as_polygon(layout.zones[z]) for z in self.zone_names])
        rules = [layout.rules.get(z, ZoneRulesConfig()) for z in self.zone_names]
        self._rules = rules
        self._rule_labels = [frozenset(r.labels) for r in rules]
        self._loiter_s = np.asarray(
            [r.loitering_s if r.loitering_s is not None else np.inf for r in rules], np.float64
        )
        self._crowd_zones = [i for i, r in enumerate(rules) if r.max_occupancy is not None]
        self._crowds = {i: _Crowd() for i in self._crowd_zones}
        headings = [r.heading_deg for r in rules]
        self._heading = headings
        self._direction_zones = np.asarray([h is not None for h in headings], np.bool_)
        self._against = np.asarray(  # unit vector of the forbidden heading, per zone
            [unit_vector(h + 180.0) if h is not None else (0.0, 0.0) for h in headings],
            np.float64,
        ).reshape(-1, 2)
        self._cos_tolerance = np.cos(np.radians([r.direction_tolerance_deg for r in rules]))
        self.table = TrackTable(len(self.lines), len(self.zone_names))
        self._pending: dict[int, list[tuple[int, Direction, float]]] = {}  # row -> crossings

    def reset(self) -> None:
        """Forget every track (the tracker was reset). Counters live elsewhere; occurrences
        left open end through the event lifecycle's expiry."""
        self.table.clear()
        self._pending.clear()
        self._handover.clear()
        self._crowds = {i: _Crowd() for i in self._crowd_zones}

    # -- the frame ---------------------------------------------------------------------------

    def update(self, tracked: Detections, confirmed: npt.NDArray[np.bool_], t: float) -> ZoneFrame:
        """Apply one frame of tracked objects (``tracked.tracker_id`` set; ``confirmed`` per
        object) seen at time ``t`` (seconds, monotonic)."""
        if tracked.tracker_id is None:
            raise ValueError("ZoneEngine.update needs tracked detections (tracker_id is None)")
        if confirmed.shape != (len(tracked),):
            raise ValueError(f"confirmed must have shape ({len(tracked)},), got {confirmed.shape}")
        out = ZoneFrame(t)
        anchors = tracked.anchor.astype(np.float64)
        heights = (tracked.xyxy[:, 3] - tracked.xyxy[:, 1]).astype(np.float64)
        ids = tracked.tracker_id.tolist()
        labels = tracked.labels.tolist()
        tb = self.table
        rows, fresh, links = tb.locate(
            ids, labels, anchors, heights, t, self.logic.lost_grace_s,
            self.logic.handover_distance, self._handover.taken(),
        )  # fmt: skip
        known = np.ones(len(ids), np.bool_)
        for i in fresh:
            self._init_row(int(rows[i]), labels[i])
            known[i] = False
        self._handover.link(tb, links)
        self._observe(rows, known, tracked, anchors, heights, confirmed, t)
        if len(self.lines):
            self._cross_lines(rows, known, anchors, heights, t)
        if self.zone_names:
            self._visit_zones(rows, anchors, heights, t, out)
        self._merge_handovers(t)
        self._release_pending(out)
        gone = self._leave_lost(t, out)
        if self.zone_names:
            self._loitering(t, out)
            self._overcrowding(t, out)
            self._wrong_way(rows, heights, t, out)
            out.occupancy = self._occupancy()
        if len(gone):
            for row in gone.tolist():
                self._pending.pop(row, None)
            tb.free(gone)
        return out

    def _init_row(self, row: int, label: str) -> None:
        tb = self.table
        tb.line_ok[row] = [not ls or label in ls for ls in self._line_labels]
        tb.rule_ok[row] = [not ls or label in ls for ls in self._rule_labels]

    def _observe(
        self,
        rows: I64,
        known: Bool,
        tracked: Detections,
        anchors: F64,
        heights: F64,
        confirmed: Bool,
        t: float,
    ) -> None:
        tb = self.table
        dt = t - tb.last_seen[rows]
        moved = known & (dt > 0)  # a fresh row has no previous position
        # Exponentially smoothed velocity (time constant direction_window_s), whatever the
        # frame rate: the heading of a person is read from it, not from one jittery step.
        span = np.where(moved, dt, 1.0)[:, None]
        step = (anchors - tb.anchor[rows]) / span
        alpha = np.where(moved, 1.0 - np.exp(-span[:, 0] / self.logic.direction_window_s), 0.0)
        vel = tb.velocity[rows]
        tb.velocity[rows] = vel + alpha[:, None] * (step - vel)
        tb.anchor[rows] = anchors
        tb.height[rows] = heights
        tb.box[rows] = tracked.xyxy
        tb.score[rows] = tracked.score
        tb.last_seen[rows] = t
        tb.confirmed[rows] |= confirmed

    # -- lines -------------------------------------------------------------------------------

    def _cross_lines(self, rows: I64, known: Bool, anchors: F64, heights: F64, t: float) -> None:
        tb = self.table
        dist, along = self.lines.measure(anchors)
        # At its first sighting a track has no side to protect from jitter: half the margin
        # places it (someone walking in at the frame's edge just before the line).
        scale = np.where(known, 1.0, 0.5) * self.logic.hysteresis
        margin = np.maximum(1.0, scale * heights)[:, None]
        side = np.where(dist > margin, 1, np.where(dist < -margin, -1, 0)).astype(np.int8)
        prev, prev_dist, prev_along = tb.side[rows], tb.side_dist[rows], tb.side_along[rows]
        settled = side != 0
        flipped = settled & (prev != 0) & (side != prev)
        if flipped.any():
            # Where the path between the two settled positions meets the line, along the
            # segment: a crossing only if that point lies on the segment itself.
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = prev_dist / (prev_dist - dist)
            at = prev_along + (along - prev_along) * frac
            crossed = flipped & (at >= 0.0) & (at <= 1.0) & tb.line_ok[rows]
            for i, k in zip(*np.nonzero(crossed), strict=True):
                direction: Direction = "in" if side[i, k] > 0 else "out"
                self._pending.setdefault(int(rows[i]), []).append((int(k), direction, t))
        tb.side[rows] = np.where(settled, side, prev)
        tb.side_dist[rows] = np.where(settled, dist, prev_dist)
        tb.side_along[rows] = np.where(settled, along, prev_along)
        first = settled & (tb.first_side[rows] == 0)  # kept for a handover (merge_lines)
        if first.any():
            tb.first_side[rows] = np.where(first, side, tb.first_side[rows])
            tb.first_dist[rows] = np.where(first, dist, tb.first_dist[rows])
            tb.first_along[rows] = np.where(first, along, tb.first_along[rows])

    def _merge_handovers(self, t: float) -> None:
        tb = self.table
        for new, old in self._handover.due(tb, t):
            gap = merge_lines(tb, new, old) if len(self.lines) else []
            if self.zone_names:
                merge_zones(tb, new, old)
            tb.origin[new] = tb.origin[old]
            tb.confirmed[new] |= tb.confirmed[old]
            crossings = self._pending.pop(old, []) + gap + self._pending.pop(new, [])
            if crossings:
                self._pending[new] = crossings
            tb.free(np.asarray([old], np.int64))

    def _release_pending(self, out: ZoneFrame) -> None:
        """Crossings of confirmed tracks are reported; the others (unconfirmed, or waiting
        for a handover) wait."""
        tb = self.table
        held = self._handover.taken_by()
        for row in [r for r in self._pending if tb.confirmed[r] and r not in held]:
            ref = self._ref(row)
            for k, direction, when in self._pending.pop(row):
                out.crossings.append(Crossing(self.lines.names[k], direction, ref, when))

    # -- zones -------------------------------------------------------------------------------

    def _visit_zones(
        self, rows: I64, anchors: F64, heights: F64, t: float, out: ZoneFrame
    ) -> None:
        tb = self.table
        member, pending = tb.member[rows], tb.pending[rows]
        # Within the hysteresis margin of an edge an object stays where it was.
        margin = np.maximum(1.0, self.logic.hysteresis * heights)[:, None]
        near = self._polygons.boundary_distance(anchors) < margin
        inside = np.where(near, member, self._polygons.contains(anchors))
        differs = inside != member
        pending = np.where(differs, np.where(np.isnan(pending), t, pending), np.nan)
        with np.errstate(invalid="ignore"):
            flip = differs & (t - pending >= self.logic.zone_debounce_s)
        enter, leave = flip & inside, flip & ~inside
        tb.entered[rows] = np.where(enter, pending, tb.entered[rows])
        tb.left[rows] = np.where(leave, pending, tb.left[rows])
        member = member ^ flip
        tb.member[rows] = member
        tb.pending[rows] = np.where(flip, np.nan, pending)
        counted = tb.counted[rows]
        ready = tb.confirmed[rows] & ~self._handover.held(rows)
        arrive = member & ready[:, None] & ~counted
        depart = leave & counted
        tb.counted[rows] = (counted | arrive) & member
        for i, z in zip(*np.nonzero(arrive), strict=True):
            row = int(rows[i])
            ref = self._ref(row)
            when = float(tb.entered[row, z])
            out.transitions.append(ZoneTransition(self.zone_names[z], "in", ref, when))
        for i, z in zip(*np.nonzero(depart), strict=True):
            row = int(rows[i])
            ref = self._ref(row)
            when = float(tb.left[row, z])
            out.transitions.append(ZoneTransition(self.zone_names[z], "out", ref, when))

    def _leave_lost(self, t: float, out: ZoneFrame) -> I64:
        """Rows unseen for longer than the grace: they leave their zones at their last
        sighting. Returned to be freed once the rules have reported them."""
        tb = self.table
        gone = np.flatnonzero(tb.alive & (t - tb.last_seen > self.logic.lost_grace_s))
        if len(gone) == 0 or not self.zone_names:
            return gone
        for row in gone.tolist():
            for z in np.flatnonzero(tb.member[row] & tb.counted[row]).tolist():
                ref = self._ref(row)
                out.transitions.append(
                    ZoneTransition(self.zone_names[z], "out", ref, float(tb.last_seen[row]))
                )
        tb.left[gone] = tb.last_seen[gone][:, None]
        tb.member[gone] = False
        tb.counted[gone] = False
        return gone

    def _loitering(self, t: float, out: ZoneFrame) -> None:
        tb = self.table
        live = tb.live_rows()
        inside = tb.counted[live]  # counted = confirmed member of this visit
        was = tb.loitering[live]
        dwell = t - tb.entered[live]
        now = inside & tb.rule_ok[live] & (dwell >= self._loiter_s[None, :])
        tb.loitering[live] = now
        for i, z in zip(*np.nonzero(was & ~now), strict=True):
            row = int(live[i])
            left = float(tb.left[row, z])
            entered = float(tb.entered[row, z])
            out.loitering.append(
                Loitering(self.zone_names[z], self._ref(row), entered, left - entered, left)
            )
        for i, z in zip(*np.nonzero(now), strict=True):
            row = int(live[i])
            entered = float(tb.entered[row, z])
            ref = self._ref(row)
            out.loitering.append(Loitering(self.zone_names[z], ref, entered, t - entered))

    def _overcrowding(self, t: float, out: ZoneFrame) -> None:
        if not self._crowd_zones:
            return
        tb = self.table
        live = tb.live_rows()
        counted = tb.counted[live] & tb.rule_ok[live]
        for z in self._crowd_zones:
            limit = self._rules[z].max_occupancy
            assert limit is not None
            members = live[counted[:, z]]
            crowd = self._crowds[z]
            if len(members) > limit:
                if math.isnan(crowd.since):
                    crowd.since = self._changed_at(out, z, "in", t)
                crowd.active = crowd.active or t - crowd.since >= self._rules[z].for_s
                if crowd.active:
                    out.overcrowding.append(self._crowd(z, members, limit, crowd.since, None))
            else:
                if crowd.active:
                    ended = self._changed_at(out, z, "out", t)
                    out.overcrowding.append(self._crowd(z, members, limit, crowd.since, ended))
                self._crowds[z] = _Crowd()

    def _changed_at(self, out: ZoneFrame, z: int, direction: Direction, t: float) -> float:
        """When the count of zone ``z`` changed this frame: visits are dated from their first
        frame inside (outside), so the crowd is too."""
        name = self.zone_names[z]
        times = [tr.t for tr in out.transitions if tr.zone == name and tr.direction == direction]
        return max(times, default=t)

    def _crowd(
        self, z: int, members: I64, limit: int, since: float, ended_at: float | None
    ) -> Overcrowding:
        tb = self.table
        by_label: dict[str, int] = {}
        for lab in tb.label[members].tolist():
            name = tb.labels[lab]
            by_label[name] = by_label.get(name, 0) + 1
        box = None
        if len(members):
            b = tb.box[members]
            box = np.asarray(
                [b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()], np.float32
            )
        return Overcrowding(
            self.zone_names[z], len(members), limit, by_label, since, box, ended_at
        )

    def _wrong_way(self, rows: I64, heights: F64, t: float, out: ZoneFrame) -> None:
        tb = self.table
        live = tb.live_rows()
        tb.wrong[live] &= tb.counted[live]  # a new visit may raise it again
        if not self._direction_zones.any() or len(rows) == 0:
            return
        vel = tb.velocity[rows]
        speed = np.hypot(vel[:, 0], vel[:, 1])
        travel = speed * self.logic.direction_window_s
        moving = (travel >= self.logic.direction_min_travel * heights) & (speed > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = (vel @ self._against.T) / speed[:, None]
        wrong = (
            tb.counted[rows]
            & tb.rule_ok[rows]
            & self._direction_zones[None, :]
            & moving[:, None]
            & (cos >= self._cos_tolerance[None, :])
            & ~tb.wrong[rows]
        )
        if not wrong.any():
            return
        tb.wrong[rows] |= wrong
        for i, z in zip(*np.nonzero(wrong), strict=True):
            row = int(rows[i])
            allowed = self._heading[z]
            assert allowed is not None
            out.wrong_way.append(
                WrongWay(
                    self.zone_names[z], self._ref(row), heading_deg(*vel[i]), allowed, t
                )
            )

    def _occupancy(self) -> dict[str, dict[str, int]]:
        tb = self.table
        live = tb.live_rows()
        counted = tb.counted[live]
        labels = tb.label[live]
        occupancy: dict[str, dict[str, int]] = {}
        for z, name in enumerate(self.zone_names):
            n = np.bincount(labels[counted[:, z]], minlength=len(tb.labels))
            occupancy[name] = {tb.labels[i]: int(n[i]) for i in np.flatnonzero(n).tolist()}
        return occupancy

    def _ref(self, row: int) -> TrackRef:
        tb = self.table
        return TrackRef(
            track_id=int(tb.tid[row]),
            origin=int(tb.origin[row]),
            label=tb.labels[int(tb.label[row])],
            score=float(tb.score[row]),
            box=tb.box[row].copy(),
        )
