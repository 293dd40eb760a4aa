"""Per-camera spatial filters: masks (ignored areas), named zones, min/max box size.

A detection is located by its *anchor*, the bottom-centre of its box (where a person stands):
a person whose head crosses a masked sky region is still counted, and a zone drawn on the
pavement contains the people walking on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from node.detect.detections import Detections

Polygon = npt.NDArray[np.float32]  # (K, 2) x, y


def as_polygon(points: Sequence[tuple[float, float]]) -> Polygon:
    poly = np.asarray(points, dtype=np.float32)
    if poly.ndim != 2 or poly.shape[1] != 2 or poly.shape[0] < 3:
        raise ValueError(f"a polygon needs at least 3 (x, y) points, got shape {poly.shape}")
    return poly


def points_in_polygon(points: npt.NDArray[np.float32], poly: Polygon) -> npt.NDArray[np.bool_]:
    """Whether each point lies inside ``poly`` (see ``points_in_polygons``)."""
    inside: npt.NDArray[np.bool_] = points_in_polygons(points, [poly])[:, 0]
    return inside


def points_in_polygons(
    points: npt.NDArray[np.float32], polygons: Sequence[Polygon]
) -> npt.NDArray[np.bool_]:
    """(N, Z): whether point n lies inside polygon z (see ``PolygonSet``)."""
    return PolygonSet.of(polygons).contains(points)


@dataclass(frozen=True, eq=False)
class PolygonSet:
    """The edges of several polygons, concatenated once, so one vectorised pass tests every
    point against every polygon (a camera's zones, every frame)."""

    count: int
    starts: npt.NDArray[np.int64]  # (Z,) first edge of each polygon
    x1: npt.NDArray[np.float64]  # (1, E) edge start and end coordinates
    y1: npt.NDArray[np.float64]
    x2: npt.NDArray[np.float64]
    y2: npt.NDArray[np.float64]

    @classmethod
    def of(cls, polygons: Sequence[Polygon]) -> PolygonSet:
        polys = [np.asarray(p, dtype=np.float64) for p in polygons]
        sizes = [len(p) for p in polys]
        starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)

        def cat(col: int, shift: int) -> npt.NDArray[np.float64]:
            if not polys:
                return np.zeros((1, 0), dtype=np.float64)
            return np.concatenate([np.roll(p[:, col], shift) for p in polys])[None, :]

        return cls(len(polys), starts, cat(0, 0), cat(1, 0), cat(0, -1), cat(1, -1))

    def contains(self, points: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.bool_]:
        """(N, Z): even-odd ray casting. Points on an edge may go either way; zones are drawn
        by hand, so that precision is irrelevant."""
        n = points.shape[0]
        if n == 0 or self.count == 0:
            return np.zeros((n, self.count), dtype=np.bool_)
        x = points[:, 0:1].astype(np.float64)
        y = points[:, 1:2].astype(np.float64)
        crosses = (self.y1 > y) != (self.y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = self.x1 + (y - self.y1) * (self.x2 - self.x1) / (self.y2 - self.y1)
        hits = (crosses & (x < x_at)).astype(np.int32)
        return np.asarray(np.add.reduceat(hits, self.starts, axis=1) % 2 == 1, dtype=np.bool_)

    def boundary_distance(self, points: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        """(N, Z): distance in pixels from each point to the nearest edge of each polygon."""
        n = points.shape[0]
        if n == 0 or self.count == 0:
            return np.zeros((n, self.count), dtype=np.float64)
        x = points[:, 0:1].astype(np.float64)
        y = points[:, 1:2].astype(np.float64)
        dx, dy = self.x2 - self.x1, self.y2 - self.y1
        length2 = np.maximum(dx * dx + dy * dy, 1e-12)
        u = np.clip(((x - self.x1) * dx + (y - self.y1) * dy) / length2, 0.0, 1.0)
        dist = np.hypot(x - (self.x1 + u * dx), y - (self.y1 + u * dy))
        out: npt.NDArray[np.float64] = np.minimum.reduceat(dist, self.starts, axis=1)
        return out


@dataclass
class SpatialFilter:
    """Masks drop detections; zones name where the rest are; size limits are frame fractions."""

    masks: list[Polygon] = field(default_factory=list)
    zones: dict[str, Polygon] = field(default_factory=dict)
    min_area: float = 0.0  # fraction of the frame area
    max_area: float = 1.0
    required_zones: frozenset[str] = frozenset()  # non-empty: keep only detections in one of them

    @classmethod
    def from_camera(
        cls,
        masks: Sequence[Sequence[tuple[float, float]]],
        zones: Mapping[str, Sequence[tuple[float, float]]],
        *,
        min_area: float = 0.0,
        max_area: float = 1.0,
        required_zones: Sequence[str] = (),
    ) -> SpatialFilter:
        unknown = sorted(set(required_zones) - set(zones))
        if unknown:
            raise ValueError(f"required zones {unknown} are not defined; known: {sorted(zones)}")
        if not 0.0 <= min_area <= max_area <= 1.0:
            raise ValueError(f"need 0 <= min_area <= max_area <= 1, got {min_area}, {max_area}")
        return cls(
            masks=[as_polygon(m) for m in masks],
            zones={k: as_polygon(v) for k, v in zones.items()},
            min_area=min_area,
            max_area=max_area,
            required_zones=frozenset(required_zones),
        )

    def zone_names(self, dets: Detections) -> list[list[str]]:
        """For each detection, the zones its anchor lies in (sorted by name)."""
        anchors = dets.anchor
        inside = {
            name: points_in_polygon(anchors, poly) for name, poly in sorted(self.zones.items())
        }
        return [[name for name, m in inside.items() if m[i]] for i in range(len(dets))]

    def apply(self, dets: Detections, frame_hw: tuple[int, int]) -> Detections:
        """Keep detections of allowed size, outside every mask, inside a required zone if any."""
        frame_area = float(frame_hw[0] * frame_hw[1])
        frac = dets.area / frame_area if frame_area > 0 else dets.area
        keep = (frac >= self.min_area) & (frac <= self.max_area)
        anchors = dets.anchor
        for poly in self.masks:
            keep &= ~points_in_polygon(anchors, poly)
        if self.required_zones:
            in_any = np.zeros(len(dets), dtype=np.bool_)
            for name in self.required_zones:
                in_any |= points_in_polygon(anchors, self.zones[name])
            keep &= in_any
        return dets[keep]
