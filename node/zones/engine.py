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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from node.detect.detections import Detections
from node.detect.zones import PolygonSet, as_polygon
from node.zones.geometry import LineSet
from node.zones.handover import Handover, merge_lines, merge_zones
from node.zones.results import Crossing, Direction, ZoneFrame, ZoneTransition
from node.zones.rules import ZoneRuleSet
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
        self.rules = ZoneRuleSet(self.zone_names, rules, self.logic)
        self.table = TrackTable(len(self.lines), len(self.zone_names))
        self._pending: dict[int, list[tuple[int, Direction, float]]] = {}  # row -> crossings

    def reset(self) -> None:
        """Forget every track (the tracker was reset). Counters live elsewhere; occurrences
        left open end through the event lifecycle's expiry."""
        self.table.clear()
        self._pending.clear()
        self._handover.clear()
        self.rules.reset()

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
            live = tb.live_rows()
            members = tb.counted[live] & tb.rule_ok[live]  # the objects each zone's rules see
            self.rules.loitering(tb, live, members, t, out)
            self.rules.overcrowding(tb, live, members, t, out)
            self.rules.wrong_way(tb, live, rows, heights, t, out)
            out.occupancy = self.rules.occupancy(tb, live)
        if len(gone):
            for row in gone.tolist():
                self._pending.pop(row, None)
            tb.free(gone)
        return out

    def _init_row(self, row: int, label: str) -> None:
        tb = self.table
        tb.line_ok[row] = [not ls or label in ls for ls in self._line_labels]
        tb.rule_ok[row] = self.rules.applies(label)

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
        if moved.any():
            # Exponentially smoothed velocity (time constant direction_window_s), whatever the
            # frame rate: the heading of a person is read from it, not from one jittery step.
            span = np.where(moved, dt, 1.0)
            alpha = np.where(moved, -np.expm1(-span / self.logic.direction_window_s), 0.0)
            vel = tb.velocity[rows]
            step = (anchors - tb.anchor[rows]) / span[:, None]
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
        settled = np.abs(dist) > margin
        prev_dist, prev_along = tb.side_dist[rows], tb.side_along[rows]
        flipped = settled & (prev_dist * dist < 0)  # settled before, on the other side
        if flipped.any():
            # Where the path between the two settled positions meets the line, along the
            # segment: a crossing only if that point lies on the segment itself.
            with np.errstate(divide="ignore", invalid="ignore"):
                at = prev_along + (along - prev_along) * (prev_dist / (prev_dist - dist))
            crossed = flipped & (at >= 0.0) & (at <= 1.0) & tb.line_ok[rows]
            for i, k in zip(*np.nonzero(crossed), strict=True):
                direction: Direction = "in" if dist[i, k] > 0 else "out"
                self._pending.setdefault(int(rows[i]), []).append((int(k), direction, t))
        tb.side_dist[rows] = np.where(settled, dist, prev_dist)
        tb.side_along[rows] = np.where(settled, along, prev_along)
        first = settled & (prev_dist == 0)  # kept for a handover (merge_lines)
        if first.any():
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
            ref = tb.ref(row)
            for k, direction, when in self._pending.pop(row):
                out.crossings.append(Crossing(self.lines.names[k], direction, ref, when))

    # -- zones -------------------------------------------------------------------------------

    def _visit_zones(
        self, rows: I64, anchors: F64, heights: F64, t: float, out: ZoneFrame
    ) -> None:
        tb = self.table
        member = tb.member[rows]
        inside = self._polygons.contains(anchors)
        busy = np.flatnonzero((inside != member).any(axis=1) | tb.pending_any[rows])
        if len(busy):  # only objects whose membership may change this frame
            self._debounce(rows[busy], anchors[busy], heights[busy], inside[busy], t)
            member = tb.member[rows]
        counted = tb.counted[rows]
        ready = tb.confirmed[rows] & ~self._handover.held(rows)
        arrive = member & ready[:, None] & ~counted
        left = counted & ~member
        if not (arrive.any() or left.any()):
            return
        tb.counted[rows] = (counted | arrive) & member
        for i, z in zip(*np.nonzero(arrive), strict=True):
            row = int(rows[i])
            when = float(tb.entered[row, z])
            out.transitions.append(ZoneTransition(self.zone_names[z], "in", tb.ref(row), when))
        for i, z in zip(*np.nonzero(left), strict=True):
            row = int(rows[i])
            when = float(tb.left[row, z])
            out.transitions.append(ZoneTransition(self.zone_names[z], "out", tb.ref(row), when))

    def _debounce(self, rows: I64, anchors: F64, heights: F64, inside: Bool, t: float) -> None:
        """Membership follows the raw inside/outside once it has held for the debounce time,
        dated from its first frame; within the hysteresis margin of an edge an object stays
        where it was."""
        tb = self.table
        member, pending = tb.member[rows], tb.pending[rows]
        margin = np.maximum(1.0, self.logic.hysteresis * heights)[:, None]
        near = self._polygons.boundary_distance(anchors) < margin
        differs = (inside != member) & ~near
        pending = np.where(differs, np.where(np.isnan(pending), t, pending), np.nan)
        with np.errstate(invalid="ignore"):
            flip = differs & (t - pending >= self.logic.zone_debounce_s)
        tb.entered[rows] = np.where(flip & inside, pending, tb.entered[rows])
        tb.left[rows] = np.where(flip & ~inside, pending, tb.left[rows])
        tb.member[rows] = member ^ flip
        pending = np.where(flip, np.nan, pending)
        tb.pending[rows] = pending
        tb.pending_any[rows] = ~np.isnan(pending).all(axis=1)

    def _leave_lost(self, t: float, out: ZoneFrame) -> I64:
        """Rows unseen for longer than the grace: they leave their zones at their last
        sighting. Returned to be freed once the rules have reported them."""
        tb = self.table
        gone = np.flatnonzero(tb.alive & (t - tb.last_seen > self.logic.lost_grace_s))
        if len(gone) == 0 or not self.zone_names:
            return gone
        for row in gone.tolist():
            for z in np.flatnonzero(tb.member[row] & tb.counted[row]).tolist():
                ref = tb.ref(row)
                out.transitions.append(
                    ZoneTransition(self.zone_names[z], "out", ref, float(tb.last_seen[row]))
                )
        tb.left[gone] = tb.last_seen[gone][:, None]
        tb.member[gone] = False
        tb.counted[gone] = False
        return gone
