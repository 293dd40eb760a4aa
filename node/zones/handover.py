"""Continuing a lost object under the new id the tracker gave it.

When a track the engine does not know appears where a lost one would be now, its fresh row is
*linked* to the lost row and held: its crossings and zone arrivals wait. Once the tracker has
given the old id up (unseen for its ``lost_after_s``), the link is resolved by merging: the new
row takes over the old row's origin, sides and zone visits, so nothing is counted twice and a
dwell time goes on. If the old id comes back meanwhile, the two were different objects (a child
in a pushchair first detected while its parent was missed for a frame): the link is dropped and
the new row counts on its own.
"""

from __future__ import annotations

import numpy as np

from node.zones.results import Direction
from node.zones.table import I64, Bool, TrackTable

PendingCrossing = tuple[int, Direction, float]  # line index, direction, when


class Handover:
    def __init__(self, after_s: float, grace_s: float, distance: float) -> None:
        self.after_s = after_s
        self.grace_s = grace_s
        self.distance = distance
        self._links: dict[int, tuple[int, int]] = {}  # new row -> (old row, old row's origin)

    def clear(self) -> None:
        self._links.clear()

    def taken(self) -> set[int]:
        """Lost rows already claimed by a fresh one."""
        return {old for old, _ in self._links.values()}

    def link(self, table: TrackTable, pairs: list[tuple[int, int]]) -> None:
        for new, old in pairs:
            self._links[new] = (old, int(table.origin[old]))

    def taken_by(self) -> set[int]:
        """Fresh rows waiting for their link to be resolved."""
        return set(self._links)

    def held(self, rows: I64) -> Bool:
        """Which of ``rows`` wait for their link to be resolved."""
        if not self._links:
            return np.zeros(len(rows), np.bool_)
        return np.fromiter((r in self._links for r in rows.tolist()), np.bool_, len(rows))

    def due(self, table: TrackTable, t: float) -> list[tuple[int, int]]:
        """The ``(new row, old row)`` pairs to merge now. A link that can no longer be is
        dropped: either row gone, or the old id seen again after the new one appeared (then
        another lost row nearby, if any, is tried: when two people walking side by side swap
        ids, the one left without a track is the other one's past)."""
        merge: list[tuple[int, int]] = []
        for new, (old, origin) in list(self._links.items()):
            del self._links[new]
            if not (table.alive[new] and table.alive[old] and table.origin[old] == origin):
                continue
            if table.last_seen[old] >= table.born[new]:
                other = table.predecessor(new, t, self.grace_s, self.distance, self.taken())
                if other >= 0:
                    self._links[new] = (other, int(table.origin[other]))
            elif t - table.last_seen[old] >= self.after_s:
                merge.append((new, old))
            else:
                self._links[new] = (old, origin)
        return merge


def merge_lines(table: TrackTable, new: int, old: int) -> list[PendingCrossing]:
    """Give ``new`` the line sides of ``old``; a side that changed while the object was unseen
    is a crossing (if the path between the two sightings cuts the segment), dated when the new
    track appeared."""
    tb = table
    d0, a0 = tb.side_dist[old], tb.side_along[old]
    d1, a1 = tb.first_dist[new], tb.first_along[new]
    changed = (d0 * d1 < 0) & tb.line_ok[new]  # both known, on opposite sides
    with np.errstate(divide="ignore", invalid="ignore"):
        at = a0 + (a1 - a0) * (d0 / (d0 - d1))
    crossed = changed & (at >= 0.0) & (at <= 1.0)
    when = float(tb.born[new])
    gap: list[PendingCrossing] = [
        (k, "in" if d1[k] > 0 else "out", when) for k in np.flatnonzero(crossed).tolist()
    ]
    unknown = tb.side_dist[new] == 0  # never settled on its own: it is where the old one was
    tb.side_dist[new] = np.where(unknown, d0, tb.side_dist[new])
    tb.side_along[new] = np.where(unknown, a0, tb.side_along[new])
    return gap


def merge_zones(table: TrackTable, new: int, old: int) -> None:
    """Give ``new`` the zone visits of ``old`` (membership, whether counted, entry time,
    loitering and wrong-way state). Where the new track's own sightings disagree, a change is
    left pending, dated at the old object's last sighting (it left) or at the new track's first
    time inside (it entered), and the usual debounce completes it."""
    tb = table
    own_pending = ~np.isnan(tb.pending[new])
    inside_now = tb.member[new] ^ own_pending  # where its own sightings put it
    own_since = np.where(tb.member[new], tb.entered[new], tb.pending[new])
    was = tb.member[old].copy()
    for arr in (tb.member, tb.counted, tb.entered, tb.left, tb.loitering, tb.wrong):
        arr[new] = arr[old]
    tb.pending[new] = np.where(
        was == inside_now, np.nan, np.where(was, tb.last_seen[old], own_since)
    )
    tb.pending_any[new] = bool((was != inside_now).any())
