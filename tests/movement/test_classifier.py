"""The bundled classifier on held-out synthetic windows (a sanity bound) and its pre/post."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models.movement.synth import CLASSES, dataset
from node.movement.classifier import (
    DEFAULT_SIDECAR,
    ClassifierManifest,
    MovementClassifier,
    make_batch,
    to_class_probs,
)
from node.movement.features import NUM_FEATURES


@pytest.fixture(scope="module")
def clf() -> MovementClassifier:
    return MovementClassifier.load(DEFAULT_SIDECAR)


def test_bundled_model_matches_the_code(clf: MovementClassifier) -> None:
    assert tuple(clf.manifest.classes) == CLASSES
    assert (DEFAULT_SIDECAR.parent / clf.manifest.file).stat().st_size <= 5 * 1024 * 1024


def test_heldout_synthetic_accuracy(clf: MovementClassifier) -> None:
    """Seeds never used in training (training used 0 and 1000): >= 95% (CI-sized n)."""
    x, y = dataset(25, seed=777, rate_hz=clf.manifest.rate_hz, steps=clf.manifest.steps)
    probs = clf.predict(list(x))
    pred = np.asarray([CLASSES.index(max(p, key=lambda k: p[k])) for p in probs])
    acc = float((pred == y).mean())
    assert acc >= 0.95, f"held-out synthetic accuracy {acc:.3f}"


def test_probabilities_sum_to_one(clf: MovementClassifier) -> None:
    x, _ = dataset(2, seed=5)
    for p in clf.predict(list(x)):
        assert sum(p.values()) == pytest.approx(1.0, abs=1e-4)
    assert clf.predict([]) == []


def test_make_batch_checks_shapes() -> None:
    assert make_batch([np.zeros((24, NUM_FEATURES), np.float32)], 24).shape == (1, 24, NUM_FEATURES)
    with pytest.raises(ValueError, match="window 0"):
        make_batch([np.zeros((10, NUM_FEATURES), np.float32)], 24)
    with pytest.raises(ValueError, match="probs"):
        to_class_probs(np.zeros((1, 3), np.float32), ["a", "b"])


def test_manifest_refuses_other_features() -> None:
    raw = DEFAULT_SIDECAR.read_text()
    with pytest.raises(ValueError, match="features"):
        ClassifierManifest.model_validate_json(raw.replace('"vx"', '"vz"'))


def test_missing_model_file_is_a_clear_error_even_with_a_sha(tmp_path: Path) -> None:
    """The sidecar names a sha256, so the file would be hashed: its absence must still give the
    friendly error, not a bare OSError from reading it."""
    sidecar = tmp_path / "movement_tcn.json"
    shutil.copy(DEFAULT_SIDECAR, sidecar)  # the .onnx next to it is missing
    assert ClassifierManifest.load(sidecar).sha256
    with pytest.raises(FileNotFoundError, match="is missing"):
        MovementClassifier.load(sidecar)
