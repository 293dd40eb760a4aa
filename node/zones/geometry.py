"""Lines and headings in image coordinates (x right, y down), vectorised over points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.config.zones import LineConfig

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LineSet:
    """A camera's counting lines. ``measure`` gives, for every point and line, the signed
    distance to the line (positive on the line's "in" side) and the position of the point's
    projection along the segment (0 at the first point, 1 at the second)."""

    names: tuple[str, ...]
    affine: F64  # (3, 2L): [x, y, 1] @ affine = [signed distances | positions along]

    @classmethod
    def of(cls, lines: Sequence[LineConfig]) -> LineSet:
        start = np.asarray([ln.points[0] for ln in lines], dtype=np.float64).reshape(-1, 2)
        end = np.asarray([ln.points[1] for ln in lines], dtype=np.float64).reshape(-1, 2)
        (ax, ay), (dx, dy) = start.T, (end - start).T
        length2 = dx * dx + dy * dy
        # y grows downwards: walking from the first point to the second, the left-hand side of
        # the image is where the cross product d x (p - a) = -dy*x + dx*y + (dy*ax - dx*ay)
        # is negative.
        sign = np.asarray([-1.0 if ln.in_side == "left" else 1.0 for ln in lines])
        scale = sign / np.sqrt(length2)
        dist = np.stack([-dy * scale, dx * scale, (dy * ax - dx * ay) * scale])
        along = np.stack([dx / length2, dy / length2, -(dx * ax + dy * ay) / length2])
        return cls(tuple(ln.name for ln in lines), np.hstack([dist, along]).reshape(3, -1))

    def __len__(self) -> int:
        return len(self.names)

    def measure(self, points: F64) -> tuple[F64, F64]:
        """(signed distance (N, L) in pixels, position along the segment (N, L))."""
        n = len(self.names)
        both = points @ self.affine[:2] + self.affine[2]
        return both[:, :n], both[:, n:]


def heading_deg(vx: float, vy: float) -> float:
    """Image heading of a motion, degrees in [0, 360): 0 right, 90 down, 180 left, 270 up."""
    return math.degrees(math.atan2(vy, vx)) % 360.0


def unit_vector(deg: float) -> tuple[float, float]:
    rad = math.radians(deg)
    return math.cos(rad), math.sin(rad)
