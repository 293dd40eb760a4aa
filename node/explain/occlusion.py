"""Occlusion (Zeiler and Fergus, 2014): slide a patch of ``fill`` over the image and record how
much the score drops. For faces the score is the cosine similarity to an identity, so the map says
which parts of the face carried the match; ``region_drops`` does the same for named regions
(eyes, nose, mouth) in one pass each.

The budget sets the stride: a window grid that would need more passes than the budget is walked
with a larger stride (and, past the window size, a larger window), never truncated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt

from node.explain.errors import ExplainError
from node.explain.maps import FloatMap
from node.explain.subject import Budget, Subject, scored_batches, scores

WINDOW_FRACTION = 1 / 8  # default window side, of the working image's shorter side


def _starts(length: int, window: int, stride: int) -> list[int]:
    """Window starts along one axis, the last one flush with the end."""
    if window >= length:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def window_grid(
    size_hw: tuple[int, int], window: int, stride: int
) -> list[tuple[int, int, int]]:
    """``(y, x, side)`` of each window."""
    h, w = size_hw
    return [(y, x, window) for y in _starts(h, window, stride) for x in _starts(w, window, stride)]


def fit_grid(
    size_hw: tuple[int, int], window: int, stride: int, passes: int
) -> list[tuple[int, int, int]]:
    """The window grid, its stride (then window) grown until it needs at most ``passes``."""
    if passes < 1:
        raise ExplainError("occlusion needs a budget of at least 2 forward passes")
    while True:
        grid = window_grid(size_hw, window, stride)
        if len(grid) <= passes:
            return grid
        stride += max(1, stride // 4)
        window = max(window, stride)


def _keeps(size_hw: tuple[int, int], grid: list[tuple[int, int, int]]
           ) -> Iterator[npt.NDArray[np.float32]]:  # fmt: skip
    for y, x, side in grid:
        keep = np.ones(size_hw, np.float32)
        keep[y : y + side, x : x + side] = 0.0
        yield keep


def explain_occlusion(
    subject: Subject, budget: Budget, window: int | None = None, stride: int | None = None
) -> tuple[FloatMap, int]:
    """Mean score drop of the windows covering each pixel; and the forward passes spent."""
    h, w = subject.size
    side = window or max(2, round(min(h, w) * WINDOW_FRACTION))
    step = stride or max(1, side // 2)
    base = float(scores(subject, [np.ones((h, w), np.float32)], budget)[0])
    grid = fit_grid((h, w), side, step, budget.masks - 1)
    total = np.zeros((h, w), np.float64)
    cover = np.zeros((h, w), np.float64)
    k = 0
    for _, s in scored_batches(subject, _keeps((h, w), grid), budget):
        for drop in base - s:
            y, x, sd = grid[k]
            total[y : y + sd, x : x + sd] += drop
            cover[y : y + sd, x : x + sd] += 1.0
            k += 1
    with np.errstate(divide="ignore", invalid="ignore"):
        heat = np.where(cover > 0, total / cover, 0.0)
    return np.asarray(heat, dtype=np.float32), 1 + len(grid)


def region_drops(
    subject: Subject, regions: Mapping[str, npt.NDArray[np.bool_]], budget: Budget
) -> dict[str, float]:
    """Score drop when each named region (a boolean mask of working pixels) is filled."""
    names = list(regions)
    keeps = [np.where(regions[n], 0.0, 1.0).astype(np.float32) for n in names]
    s = scores(subject, [np.ones(subject.size, np.float32), *keeps], budget)
    return {n: round(float(s[0] - s[i + 1]), 4) for i, n in enumerate(names)}
