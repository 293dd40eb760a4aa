"""``CounterStore``: in/out counts per line and zone and label, and live zone occupancy.

Written from the analytics' worker threads (``record``), read and reset from the event loop
(``state``, ``reset``, ``dump``), hence one lock. No I/O: ``dump``/``load`` give and take the
JSON-able form a caller persists, so counts survive a restart; occupancy is live and never
persisted.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from node.zones.results import ZoneFrame
from schemas.zones import LineCounts, ZoneCounts, ZoneCountsState

Kind = Literal["line", "zone"]
DUMP_VERSION = 1


@dataclass
class _Tally:
    since: float
    ins: Counter[str] = field(default_factory=Counter)
    outs: Counter[str] = field(default_factory=Counter)

    def dump(self) -> dict[str, Any]:
        return {"since": self.since, "in": dict(self.ins), "out": dict(self.outs)}

    @classmethod
    def load(cls, raw: Mapping[str, Any]) -> _Tally:
        return cls(
            since=float(raw["since"]),
            ins=Counter({str(k): int(v) for k, v in raw.get("in", {}).items() if int(v) > 0}),
            outs=Counter({str(k): int(v) for k, v in raw.get("out", {}).items() if int(v) > 0}),
        )


@dataclass
class _Camera:
    lines: dict[str, _Tally]
    zones: dict[str, _Tally]
    occupancy: dict[str, dict[str, int]]


class CounterStore:
    """Counters of every camera's lines and zones. ``layout``: camera -> (line names, zone
    names); ``now``: wall clock (epoch seconds) for the ``since`` of a reset."""

    def __init__(
        self,
        layout: Mapping[str, tuple[Sequence[str], Sequence[str]]],
        now: Callable[[], float],
    ) -> None:
        self._now = now
        self._lock = threading.Lock()
        start = now()
        self._cameras = {
            cam: _Camera(
                lines={n: _Tally(start) for n in lines},
                zones={n: _Tally(start) for n in zones},
                occupancy={n: {} for n in zones},
            )
            for cam, (lines, zones) in layout.items()
        }
        self._dirty: set[str] = set(self._cameras)
        self._version = 0  # of the persistent part (in/out counts, since)

    @property
    def cameras(self) -> list[str]:
        return list(self._cameras)

    @property
    def version(self) -> int:
        """Grows whenever an in/out count or a ``since`` changes: what ``dump`` holds is stale
        for a persisted copy of an older version."""
        return self._version

    def record(self, camera: str, frame: ZoneFrame) -> bool:
        """Count one frame's crossings and visits and take its occupancy; True if a count or
        an occupancy changed."""
        cam = self._cameras.get(camera)
        if cam is None:
            return False
        with self._lock:
            changed = False
            for c in frame.crossings:
                tally = cam.lines.get(c.line)
                if tally is not None:
                    (tally.ins if c.direction == "in" else tally.outs)[c.track.label] += 1
                    changed = True
            for tr in frame.transitions:
                tally = cam.zones.get(tr.zone)
                if tally is not None:
                    (tally.ins if tr.direction == "in" else tally.outs)[tr.track.label] += 1
                    changed = True
            if changed:
                self._version += 1
            for zone, by_label in frame.occupancy.items():
                if zone in cam.occupancy and cam.occupancy[zone] != by_label:
                    cam.occupancy[zone] = dict(by_label)
                    changed = True
            if changed:
                self._dirty.add(camera)
            return changed

    def reset(
        self, camera: str | None = None, kind: Kind | None = None, name: str | None = None
    ) -> list[str]:
        """Zero the in/out counts of the matching lines and zones (all of them by default) and
        restart their ``since``; returns what was reset as ``camera/line/name`` paths. Occupancy
        is what is inside now: a reset leaves it. Raises KeyError for an unknown camera or name."""
        if camera is not None and camera not in self._cameras:
            raise KeyError(f"unknown camera {camera!r}; known: {sorted(self._cameras)}")
        now = self._now()
        done: list[str] = []
        with self._lock:
            for cam_name, cam in self._cameras.items():
                if camera is not None and cam_name != camera:
                    continue
                for k, tallies in (("line", cam.lines), ("zone", cam.zones)):
                    if kind is not None and k != kind:
                        continue
                    for n in tallies:
                        if name is None or n == name:
                            tallies[n] = _Tally(now)
                            done.append(f"{cam_name}/{k}/{n}")
                self._dirty.add(cam_name)
            self._version += 1
        if name is not None and not done:
            where = f"camera {camera!r}" if camera else "any camera"
            raise KeyError(f"no {kind or 'line or zone'} named {name!r} on {where}")
        return done

    def state(self, camera: str) -> ZoneCountsState:
        cam = self._cameras[camera]
        with self._lock:
            return ZoneCountsState(
                camera=camera,
                lines={n: _line_counts(t) for n, t in cam.lines.items()},
                zones={n: _zone_counts(t, cam.occupancy[n]) for n, t in cam.zones.items()},
            )

    def take_dirty(self) -> list[str]:
        """Cameras whose state changed since the last call (all of them at first)."""
        with self._lock:
            dirty, self._dirty = sorted(self._dirty), set()
        return dirty

    def dump(self) -> dict[str, Any]:
        """The persistent part (in/out counts and their ``since``), JSON-able."""
        with self._lock:
            return {
                "version": DUMP_VERSION,
                "cameras": {
                    cam_name: {
                        "lines": {n: t.dump() for n, t in cam.lines.items()},
                        "zones": {n: t.dump() for n, t in cam.zones.items()},
                    }
                    for cam_name, cam in self._cameras.items()
                },
            }

    def load(self, data: Mapping[str, Any]) -> None:
        """Take counts back from ``dump``'s form. Cameras, lines and zones no longer in the
        layout are dropped; new ones start at zero. Raises ValueError on a malformed dump."""
        if data.get("version") != DUMP_VERSION:
            raise ValueError(f"zone counts: unknown dump version {data.get('version')!r}")
        try:
            loaded = {
                cam_name: {
                    k: {n: _Tally.load(raw) for n, raw in cam.get(k + "s", {}).items()}
                    for k in ("line", "zone")
                }
                for cam_name, cam in data.get("cameras", {}).items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"zone counts: malformed dump ({err})") from err
        with self._lock:
            for cam_name, kinds in loaded.items():
                cam = self._cameras.get(cam_name)
                if cam is None:
                    continue
                for n, tally in kinds["line"].items():
                    if n in cam.lines:
                        cam.lines[n] = tally
                for n, tally in kinds["zone"].items():
                    if n in cam.zones:
                        cam.zones[n] = tally
                self._dirty.add(cam_name)
            self._version += 1


def _line_counts(t: _Tally) -> LineCounts:
    return LineCounts(
        in_count=t.ins.total(),
        out_count=t.outs.total(),
        in_by_label=dict(sorted(t.ins.items())),
        out_by_label=dict(sorted(t.outs.items())),
        since=t.since,
    )


def _zone_counts(t: _Tally, occupancy: Mapping[str, int]) -> ZoneCounts:
    return ZoneCounts(
        in_count=t.ins.total(),
        out_count=t.outs.total(),
        in_by_label=dict(sorted(t.ins.items())),
        out_by_label=dict(sorted(t.outs.items())),
        occupancy=sum(occupancy.values()),
        occupancy_by_label=dict(sorted(occupancy.items())),
        since=t.since,
    )
