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
    start: F64  # (L, 2)
    delta: F64  # (L, 2) second point minus first
    length: F64  # (L,)
    in_sign: F64  # (L,) +1 when "in" is where the cross product is positive

    @classmethod
    def of(cls, lines: Sequence[LineConfig]) -> LineSet:
        start = np.asarray([ln.points[0] for ln in lines], dtype=np.float64).reshape(-1, 2)
        end = np.asarray([ln.points[1] for ln in lines], dtype=np.float64).reshape(-1, 2)
        delta = end - start
        # y grows downwards: walking from the first point to the second, the left-hand side of
        # the image is where the cross product (delta x (p - start)) is negative.
        sign = [-1.0 if ln.in_side == "left" else 1.0 for ln in lines]
        return cls(
            names=tuple(ln.name for ln in lines),
            start=start,
            delta=delta,
            length=np.hypot(delta[:, 0], delta[:, 1]),
            in_sign=np.asarray(sign, dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.names)

    def measure(self, points: F64) -> tuple[F64, F64]:
        """(signed distance (N, L) in pixels, position along the segment (N, L))."""
        rel_x = points[:, 0:1] - self.start[None, :, 0]
        rel_y = points[:, 1:2] - self.start[None, :, 1]
        dx, dy = self.delta[None, :, 0], self.delta[None, :, 1]
        cross = dx * rel_y - dy * rel_x
        along = (dx * rel_x + dy * rel_y) / (self.length**2)[None, :]
        return cross / self.length[None, :] * self.in_sign[None, :], along


def heading_deg(vx: float, vy: float) -> float:
    """Image heading of a motion, degrees in [0, 360): 0 right, 90 down, 180 left, 270 up."""
    return math.degrees(math.atan2(vy, vx)) % 360.0


def unit_vector(deg: float) -> tuple[float, float]:
    rad = math.radians(deg)
    return math.cos(rad), math.sin(rad)
