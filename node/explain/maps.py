"""What every explanation method hands back, and what is read off it: peak, box, overlay.

A method produces a *working map*: one value per pixel of the image the model saw (the fire
classifier's 192x192 squash, the detector's letterboxed 416x416 canvas, the face embedder's aligned
112x112 crop). The subject of the explanation maps it back onto the original image; the peak and
the box are read there, in image pixels.

``mass_box`` is the smallest box holding the map's strongest pixels that together carry
``TOP_MASS`` of its positive mass: where the evidence concentrates, not where the map is merely
above some threshold (maps of different methods have very different value ranges).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from node.fire.cam import heatmap_overlay, normalize_cam, upsample
from schemas.explain import ExplainMethod, ExplainModel

FloatMap = npt.NDArray[np.float32]
Image = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]

TOP_MASS = 0.2
BOX_WORK_SIDE = 256  # the mass box is found on a map of at most this side, then scaled


def resize_map(heat: FloatMap, width: int, height: int) -> FloatMap:
    """Bilinear resize of a map to ``width`` x ``height`` (cell centres aligned)."""
    if heat.ndim != 2:
        raise ValueError(f"a map must be 2-d (h, w), got shape {heat.shape}")
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive, got {width}x{height}")
    if heat.shape == (height, width):
        return np.asarray(heat, dtype=np.float32)
    return upsample(np.asarray(heat, dtype=np.float32), width, height)


def peak_xy(heat: FloatMap) -> tuple[int, int]:
    """``(x, y)`` of the map's maximum (the first one in row-major order on ties)."""
    if heat.size == 0:
        raise ValueError("the map is empty")
    row, col = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return int(col), int(row)


def mass_box(heat: FloatMap, fraction: float = TOP_MASS) -> Box:
    """``(x1, y1, x2, y2)`` (exclusive ends, pixels of ``heat``) of the strongest pixels that
    together hold ``fraction`` of the positive mass. A map with no positive value boxes its peak
    pixel."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"the map is empty or not 2-d: shape {heat.shape}")
    h, w = heat.shape
    scale = min(1.0, BOX_WORK_SIDE / max(h, w))
    gw, gh = max(1, round(w * scale)), max(1, round(h * scale))
    grid = np.clip(resize_map(heat, gw, gh), 0.0, None)
    total = float(grid.sum())
    if total <= 0.0:
        x, y = peak_xy(heat)
        return x, y, x + 1, y + 1
    values = grid.ravel()
    order = np.argsort(-values, kind="stable")
    reached = int(np.searchsorted(np.cumsum(values[order]), fraction * total)) + 1
    rows, cols = np.unravel_index(order[:reached], grid.shape)
    sx, sy = w / gw, h / gh
    x1, y1 = int(np.floor(cols.min() * sx)), int(np.floor(rows.min() * sy))
    x2, y2 = int(np.ceil((cols.max() + 1) * sx)), int(np.ceil((rows.max() + 1) * sy))
    return x1, y1, min(w, x2), min(h, y2)


def overlay(image: Image, heat: FloatMap, box: Box | None = None) -> Image:
    """The image with the map blended in as a JET heatmap, and the mass box drawn."""
    drawn = None if box is None else np.asarray(box, dtype=np.float32)
    return heatmap_overlay(image, normalize_cam(heat), box=drawn)


@dataclass(frozen=True, eq=False)
class Explanation:
    """One explanation of one score. ``heat`` is in image pixels, ``working`` in the pixels the
    model saw (deletion/insertion curves perturb those). eq=False: arrays inside."""

    method: ExplainMethod
    model: ExplainModel
    target: str
    heat: FloatMap
    working: FloatMap
    masks: int  # forward passes spent (0 for CAM: it reads the one pass of the frame)
    ms: float
    score: float | None = None  # the explained score on the unperturbed image
    regions: dict[str, float] = field(default_factory=dict)  # named regions (faces): score drop

    @property
    def peak(self) -> tuple[int, int]:
        return peak_xy(self.heat)

    @property
    def box(self) -> Box:
        return mass_box(self.heat)
