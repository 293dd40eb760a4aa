from __future__ import annotations

import itertools

import numpy as np
import pytest

from node.track.assignment import linear_assignment


def brute_force(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        perms = itertools.permutations(range(m), n)
        return min(sum(cost[i, p[i]] for i in range(n)) for p in perms)
    return brute_force(cost.T)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 6), (6, 4), (5, 5), (2, 7)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimal_against_brute_force(shape: tuple[int, int], seed: int) -> None:
    cost = np.random.default_rng(seed).uniform(0, 1, shape)
    matches, ur, uc = linear_assignment(cost, max_cost=np.inf)
    assert len(matches) == min(shape)
    assert sum(cost[r, c] for r, c in matches) == pytest.approx(brute_force(cost))
    assert len({r for r, _ in matches}) == len(matches) == len({c for _, c in matches})
    assert len(ur) == shape[0] - len(matches) and len(uc) == shape[1] - len(matches)


def test_greedy_trap_is_solved_optimally() -> None:
    # greedy takes (0,0)=0.1 first and is forced into (1,1)=0.95; optimum is 0.2 + 0.3
    cost = np.array([[0.1, 0.2], [0.3, 0.95]])
    matches, _, _ = linear_assignment(cost, max_cost=1.0)
    assert matches == [(0, 1), (1, 0)]


def test_gating_and_empty() -> None:
    cost = np.array([[0.1, 0.9], [0.9, 0.95]])
    matches, ur, uc = linear_assignment(cost, max_cost=0.5)
    assert matches == [(0, 0)] and ur == [1] and uc == [1]
    assert linear_assignment(np.zeros((0, 3)), 1.0) == ([], [], [0, 1, 2])
    assert linear_assignment(np.zeros((2, 0)), 1.0) == ([], [0, 1], [])
