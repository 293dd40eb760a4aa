"""Per-camera spatial filters: masks (ignored areas), named zones, min/max box size.

A detection is located by its *anchor*, the bottom-centre of its box (where a person stands):
a person whose head crosses a masked sky region is still counted, and a zone drawn on the
pavement contains the people walking on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    """Even-odd ray casting, vectorised over points and edges. Points on an edge may go either
    way; zones are drawn by hand, so that precision is irrelevant."""
    if points.shape[0] == 0:
        return np.zeros(0, dtype=np.bool_)
    x, y = points[:, 0:1], points[:, 1:2]  # (N, 1)
    x1, y1 = poly[:, 0][None, :], poly[:, 1][None, :]  # (1, K)
    x2, y2 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    hits = crosses & (x < x_at)
    return np.asarray(hits.sum(axis=1) % 2 == 1, dtype=np.bool_)


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
