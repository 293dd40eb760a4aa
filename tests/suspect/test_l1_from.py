"""``train.py --l1-from``: the L1 term is off before the given fraction of the iterations and on
after it.

Needs torch only because ``models.suspect.train`` imports it (skipped without)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from models.suspect.train import grid_of, l1_weight_at, loss_fn  # noqa: E402 (after the importorskip)


def _batch() -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    grid, stride = grid_of(64, (8, 16, 32))
    out = torch.randn(2, len(grid), 5 + 4) * 0.5
    targets = [torch.tensor([[0, 10.0, 12.0, 40.0, 44.0], [3, 30.0, 5.0, 60.0, 30.0]]),
               torch.zeros(0, 5)]  # fmt: skip
    return out, targets, grid, stride


def test_l1_from_half_is_off_early_and_on_late() -> None:
    iters, start = 100, 0.5
    out, targets, grid, stride = _batch()
    base, base_parts = loss_fn(out, targets, grid, stride)
    early, early_parts = loss_fn(out, targets, grid, stride, l1_weight_at(10, iters, 1.0, start))
    late, late_parts = loss_fn(out, targets, grid, stride, l1_weight_at(90, iters, 1.0, start))
    assert torch.equal(early, base) and early_parts == base_parts  # exactly the loss without L1
    assert "l1" not in early_parts and late_parts["l1"] > 0
    assert float(late - base) == pytest.approx(late_parts["l1"], abs=2e-3)
    # the boundary: on from iteration start * iters (0-based), off just before
    assert l1_weight_at(49, iters, 1.0, start) == 0.0
    assert l1_weight_at(50, iters, 1.0, start) == 1.0
    # the default (0.0) is round 6's behaviour: on from the first iteration; weight 0 stays off
    assert l1_weight_at(0, iters, 2.0) == 2.0
    assert l1_weight_at(99, iters, 0.0, start) == 0.0
