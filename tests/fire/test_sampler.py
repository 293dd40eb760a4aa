"""The training sampler's strata: alike by default (fire@2), or a set share of scene negatives."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from models.fire.data import Sample  # noqa: E402
from models.fire.train import balanced_sampler  # noqa: E402


def _samples() -> list[Sample]:
    def make(k: int, fire: bool, smoke: bool) -> Sample:
        return Sample(Path(f"{k}.jpg"), fire, smoke, f"g{k}", "test")

    kinds = [(True, False)] * 10 + [(False, True)] * 20 + [(True, True)] * 5
    kinds += [(False, False)] * 200
    return [make(k, f, s) for k, (f, s) in enumerate(kinds)]


def _drawn_kinds(negative_share: float | None) -> Counter[str]:
    samples = _samples()
    sampler = balanced_sampler(samples, seed=0, num_samples=20000, negative_share=negative_share)
    return Counter(samples[i].kind for i in sampler)


def test_strata_are_drawn_alike_by_default() -> None:
    drawn = _drawn_kinds(None)
    for kind in ("fire", "smoke", "both", "none"):
        assert drawn[kind] / 20000 == pytest.approx(0.25, abs=0.02)


def test_negative_share_sets_the_share_of_scene_negatives() -> None:
    drawn = _drawn_kinds(0.5)
    assert drawn["none"] / 20000 == pytest.approx(0.5, abs=0.02)
    for kind in ("fire", "smoke", "both"):
        assert drawn[kind] / 20000 == pytest.approx(0.5 / 3, abs=0.02)


def test_negative_share_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="negative_share"):
        balanced_sampler(_samples(), seed=0, num_samples=10, negative_share=1.0)
