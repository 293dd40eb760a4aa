"""Minimum-cost rectangular linear assignment (Hungarian, shortest augmenting paths).

scipy is not a runtime dependency of the node (it is large and wheels for small ARM boards lag),
and a greedy highest-IoU match gets crossing objects wrong exactly when it matters: two people
passing each other produce two similar IoUs and greedy can lock in the wrong pair. Matrices here
are tiny (tracks x detections of one frame), so an O(n^2 m) Hungarian with a numpy inner loop is
fast enough and exact.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def linear_assignment(
    cost: npt.NDArray[np.float64], max_cost: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal matching of rows to columns minimising total cost.

    Pairs whose cost exceeds ``max_cost`` are rejected after the optimal assignment (gating).
    Returns ``(matches, unmatched_rows, unmatched_cols)``.
    """
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        return [], list(range(n_rows)), list(range(n_cols))
    transposed = n_rows > n_cols
    c = (cost.T if transposed else cost).astype(np.float64)
    row_of_col = _hungarian(c)
    matches: list[tuple[int, int]] = []
    for col, row in enumerate(row_of_col):
        if row < 0:
            continue
        r, k = (col, row) if transposed else (row, col)
        if cost[r, k] <= max_cost:
            matches.append((r, k))
    matched_rows = {r for r, _ in matches}
    matched_cols = {k for _, k in matches}
    return (
        sorted(matches),
        [r for r in range(n_rows) if r not in matched_rows],
        [k for k in range(n_cols) if k not in matched_cols],
    )


def _hungarian(c: npt.NDArray[np.float64]) -> list[int]:
    """For an n x m cost matrix with n <= m, the row assigned to each column (-1: none).

    Classic potentials formulation (e-maxx), 1-based internally; the inner loop over columns is
    vectorised.
    """
    n, m = c.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)  # p[j]: row matched to column j (0 = none)
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            cur = c[i0 - 1, :] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = int(way[j0])
            p[j0] = p[j1]
            j0 = j1
    return [int(p[j]) - 1 for j in range(1, m + 1)]
