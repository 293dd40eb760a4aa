"""A ``ZoneFrame`` as observations for the event lifecycle (the objects analytic's).

* ``line.crossed`` and ``zone.wrong_way`` are one-offs: one ``new`` event each, no end;
* ``zone.loitering`` opens (``new``) when the dwell passes ``loitering_s``, updates with the
  dwell, ends when the object leaves the zone (``ended_at`` = when it left);
* ``zone.overcrowded`` opens after ``for_s`` over ``max_occupancy``, updates with the count and
  ends when the count is back at the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from node.analytics.base import Observation
from node.frame import Frame
from node.zones.results import Loitering, Overcrowding, TrackRef, ZoneFrame
from schemas.attributes import (
    EventAttributes,
    LineCrossedAttributes,
    ZoneLoiteringAttributes,
    ZoneOvercrowdedAttributes,
    ZoneWrongWayAttributes,
)
from schemas.config.camera import CameraConfig
from schemas.events import Severity

LINE_CROSSED = "line.crossed"
ZONE_LOITERING = "zone.loitering"
ZONE_OVERCROWDED = "zone.overcrowded"
ZONE_WRONG_WAY = "zone.wrong_way"
ZONE_EVENT_TYPES = (LINE_CROSSED, ZONE_LOITERING, ZONE_OVERCROWDED, ZONE_WRONG_WAY)
# One-offs: a single `new` event, never ended (consumers tracking open events skip them).
INSTANT_EVENT_TYPES = frozenset({LINE_CROSSED, ZONE_WRONG_WAY})

Wall = Callable[[float], float]  # frame clock (monotonic) -> wall time

SEVERITY = {
    LINE_CROSSED: Severity.INFO,
    ZONE_LOITERING: Severity.LOW,
    ZONE_OVERCROWDED: Severity.MEDIUM,
    ZONE_WRONG_WAY: Severity.LOW,
}


def zone_event_types(cameras: Sequence[CameraConfig]) -> list[str]:
    """The zone event types these cameras' lines and rules can raise."""
    rules = [r for cam in cameras for r in cam.zone_rules.values()]
    wanted = {
        LINE_CROSSED: any(cam.lines for cam in cameras),
        ZONE_LOITERING: any(r.loitering_s is not None for r in rules),
        ZONE_OVERCROWDED: any(r.max_occupancy is not None for r in rules),
        ZONE_WRONG_WAY: any(r.direction is not None for r in rules),
    }
    return [t for t in ZONE_EVENT_TYPES if wanted[t]]


def zone_observations(zf: ZoneFrame, frame: Frame) -> list[Observation]:
    """The observations of one ``ZoneFrame`` computed on ``frame`` (times become wall times
    through the frame's own pair of clocks)."""

    def wall(t: float) -> float:
        return frame.captured_at + (t - frame.monotonic)

    out: list[Observation] = []
    for c in zf.crossings:
        crossed = LineCrossedAttributes(
            line=c.line, direction=c.direction, crossed_at=_utc(wall(c.t)), **_object(c.track)
        )
        key = f"{LINE_CROSSED}:{c.line}:{c.track.origin}:{c.t}"
        out.append(_about(c.track, LINE_CROSSED, key, crossed, instant=True))
    for w in zf.wrong_way:
        attrs = ZoneWrongWayAttributes(zone=w.zone, heading_deg=round(w.heading_deg, 1),
                                       allowed_deg=round(w.allowed_deg, 1), **_object(w.track))
        key = f"{ZONE_WRONG_WAY}:{w.zone}:{w.track.origin}:{w.t}"
        out.append(_about(w.track, ZONE_WRONG_WAY, key, attrs, instant=True))
    out.extend(_loitering(lo, wall) for lo in zf.loitering)
    out.extend(_overcrowding(oc, wall) for oc in zf.overcrowding)
    return out


def _loitering(lo: Loitering, wall: Wall) -> Observation:
    attrs = ZoneLoiteringAttributes(
        zone=lo.zone,
        dwell_s=round(lo.dwell_s, 2),
        entered_at=_utc(wall(lo.entered_at)),
        **_object(lo.track),
    )
    ended = wall(lo.ended_at) if lo.ended_at is not None else None
    key = f"{ZONE_LOITERING}:{lo.zone}:{lo.track.origin}"
    return _about(lo.track, ZONE_LOITERING, key, attrs, ended_at=ended)


def _overcrowding(oc: Overcrowding, wall: Wall) -> Observation:
    label = max(oc.by_label, key=lambda k: (oc.by_label[k], k)) if oc.by_label else "crowd"
    return Observation(
        key=f"{ZONE_OVERCROWDED}:{oc.zone}",
        type=ZONE_OVERCROWDED,
        label=label,
        score=1.0,
        box=oc.box,
        severity=SEVERITY[ZONE_OVERCROWDED],
        attributes=ZoneOvercrowdedAttributes(
            zone=oc.zone,
            count=oc.count,
            max_occupancy=oc.max_occupancy,
            by_label=dict(sorted(oc.by_label.items())),
            over_since=_utc(wall(oc.since)),
        ),
        ended_at=wall(oc.ended_at) if oc.ended_at is not None else None,
    )


def _object(track: TrackRef) -> dict[str, Any]:
    """The fields of ``ZoneObjectAttributes``: which object (label, current track id)."""
    return {"label": track.label, "track": track.track_id}


def _about(
    track: TrackRef,
    type_: str,
    key: str,
    attributes: EventAttributes,
    *,
    instant: bool = False,
    ended_at: float | None = None,
) -> Observation:
    return Observation(
        key=key,
        type=type_,
        label=track.label,
        score=min(1.0, max(0.0, track.score)),
        box=track.box,
        severity=SEVERITY[type_],
        attributes=attributes,
        instant=instant,
        ended_at=ended_at,
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
