"""Pointing game and deletion/insertion: a map that names the true evidence scores better."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from node.explain.fire import fire_subject
from node.explain.metrics import auc, deletion_insertion, pointing_hit
from tests.explain.tiny_models import SIDE, fire_model, textured_image


@pytest.mark.parametrize(
    ("peak", "boxes", "hit"),
    [
        ((5, 5), [(0, 0, 10, 10)], True),
        ((10, 10), [(0, 0, 10, 10)], True),  # the edge counts
        ((11, 5), [(0, 0, 10, 10)], False),
        ((50, 50), [(0, 0, 10, 10), (40, 40, 60, 60)], True),
        ((5, 5), [], False),
    ],
)
def test_pointing_hit(peak: tuple[int, int], boxes: list[tuple[int, ...]], hit: bool) -> None:
    assert pointing_hit(peak, boxes) is hit


def test_auc_is_the_trapezoid_area_over_unit_x() -> None:
    assert auc(np.array([1.0, 1.0], np.float32)) == pytest.approx(1.0)
    assert auc(np.array([1.0, 0.0, 0.0], np.float32)) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="two points"):
        auc(np.array([1.0], np.float32))


def test_the_true_evidence_map_deletes_faster_and_inserts_faster(tmp_path: Path) -> None:
    subject = fire_subject(fire_model(tmp_path), textured_image(64, 48), 0, logits=False)
    truth = np.zeros((SIDE, SIDE), np.float32)
    truth[: SIDE // 2, : SIDE // 2] = 1.0
    truth += np.linspace(0, 0.01, SIDE * SIDE, dtype=np.float32).reshape(SIDE, SIDE)
    wrong = truth[::-1, ::-1].copy()
    good, bad = deletion_insertion(subject, truth), deletion_insertion(subject, wrong)
    assert good.deletion[0] == pytest.approx(good.insertion[-1], abs=1e-6)  # the unperturbed
    assert good.deletion_auc < bad.deletion_auc - 0.05
    # (this model averages 8x8 cells, so the blurred start scores like the image itself and
    # insertion cannot tell the maps apart; its end points are what can be checked here)
    assert good.insertion[-1] == pytest.approx(good.deletion[0], abs=1e-6)
    # only the valid pixels are ordered: a map limited to the right half never reaches the
    # quadrant, so deletion leaves the score where it was
    right = np.zeros((SIDE, SIDE), bool)
    right[:, SIDE // 2 :] = True
    limited = deletion_insertion(subject, truth, valid=right)
    assert limited.deletion[-1] == pytest.approx(limited.deletion[0], abs=1e-6)


def test_insertion_rises_first_for_the_map_that_names_the_evidence() -> None:
    """A score that counts the top-left pixels equal to the original: blurring destroys them,
    inserting them back in the map's order brings it back."""
    from node.explain.subject import Subject

    working = textured_image(SIDE, SIDE, seed=1)
    half = SIDE // 2

    def score(batch: np.ndarray) -> np.ndarray:
        same = np.all(batch[:, :half, :half] == working[:half, :half], axis=3)
        return same.mean(axis=(1, 2)).astype(np.float32)

    subject = Subject("tiny", "tl", working, (0.0, 0.0, 0.0), score, lambda m: m)
    truth = np.zeros((SIDE, SIDE), np.float32)
    truth[:half, :half] = 1.0
    good = deletion_insertion(subject, truth)
    bad = deletion_insertion(subject, truth[::-1, ::-1].copy())
    assert good.insertion[0] < 0.1 and good.insertion[-1] == pytest.approx(1.0)
    assert good.insertion_auc > bad.insertion_auc + 0.3
    assert good.deletion_auc < bad.deletion_auc - 0.3
