"""The node loads the movement classifier through the model registry (``movement_tcn``, bundled),
not by opening the ONNX file itself; a missing or mismatching model is a clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from node.inference.errors import ModelError
from node.movement.classifier import (
    DEFAULT_SIDECAR,
    REGISTRY_NAME,
    ClassifierMismatchError,
    HandleClassifierBackend,
    MovementClassifier,
    OrtClassifierBackend,
)
from node.movement.factory import classifier_from
from node.registry.defaults import bundled_models_dir, default_registry
from node.registry.loader import ModelLoader
from node.registry.store import ModelStore
from schemas.config.movement import MovementConfig


def _loader(tmp_path: Path, bundled_root: Path | None = None) -> ModelLoader:
    return ModelLoader(ModelStore(tmp_path / "store", progress_stream=None,
                                  bundled_root=bundled_root))


def test_node_classifier_comes_from_the_registry_handle(tmp_path: Path) -> None:
    loader = _loader(tmp_path)
    clf = classifier_from(MovementConfig(enabled=True), loader)
    assert isinstance(clf.backend, HandleClassifierBackend)
    # the loader knows the slot, so `model_swap movement.classifier` can name it
    assert loader.slot_of("movement.classifier") == REGISTRY_NAME
    handle = loader.handle(REGISTRY_NAME)
    assert handle.sha256 == default_registry()[REGISTRY_NAME].manifest.sha256
    # same probabilities as the file opened directly
    direct = MovementClassifier.load(DEFAULT_SIDECAR)
    rng = np.random.default_rng(3)
    m = clf.manifest
    windows = [rng.normal(size=(m.steps, len(m.features))).astype(np.float32) for _ in range(3)]
    got, want = clf.predict(windows), direct.predict(windows)
    assert [list(p) for p in got] == [m.classes] * 3
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, abs=1e-5)
    assert handle.session.latency().count >= 1  # the run went through the node's session


def test_without_a_loader_or_with_a_custom_sidecar_the_file_is_opened_directly(
    tmp_path: Path,
) -> None:
    assert isinstance(classifier_from(MovementConfig()).backend, OrtClassifierBackend)
    custom = tmp_path / "mine.json"
    shutil.copy(DEFAULT_SIDECAR, custom)
    shutil.copy(DEFAULT_SIDECAR.parent / "movement_tcn.onnx", tmp_path / "movement_tcn.onnx")
    loader = _loader(tmp_path)
    clf = classifier_from(MovementConfig(classifier=str(custom)), loader)
    assert isinstance(clf.backend, OrtClassifierBackend)
    assert REGISTRY_NAME not in loader.handles()


def test_missing_bundled_model_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    with pytest.raises(RuntimeError, match="movement classifier 'movement_tcn'") as info:
        classifier_from(MovementConfig(enabled=True), _loader(tmp_path, bundled_root=empty))
    assert isinstance(info.value.__cause__, ModelError)
    assert "missing" in str(info.value)


def test_registry_model_must_match_the_sidecar(tmp_path: Path) -> None:
    sidecar = json.loads(DEFAULT_SIDECAR.read_text())
    sidecar["classes"] = list(reversed(sidecar["classes"]))
    sidecar["sha256"] = "0" * 64
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sidecar))
    handle = _loader(tmp_path).load(REGISTRY_NAME)
    with pytest.raises(ClassifierMismatchError, match="labels") as info:
        MovementClassifier.from_handle(handle, bad)
    assert "sha256" in str(info.value)
    assert (bundled_models_dir() / "movement" / "movement_tcn.onnx").is_file()


def test_a_swapped_in_classifier_is_checked_before_it_is_read(tmp_path: Path) -> None:
    """`model_swap` of the classifier slot: a model whose class order differs from the sidecar's
    is refused (not read in the wrong order); a matching one (another sha and version) is used and
    named; a rollback goes back to the checked model."""
    loader = _loader(tmp_path)
    clf = classifier_from(MovementConfig(enabled=True), loader)
    handle = loader.handle(REGISTRY_NAME)
    original = handle.session
    m = clf.manifest
    windows = [np.zeros((m.steps, len(m.features)), np.float32)]
    before = clf.predict(windows)
    path = bundled_models_dir() / "movement" / "movement_tcn.onnx"
    served = original.manifest
    reordered = served.model_copy(update={"labels": list(reversed(served.labels)),
                                          "version": "reordered"})
    handle.swap(loader.build_session(path, reordered, handle.slot))
    with pytest.raises(ClassifierMismatchError, match="labels"):
        clf.predict(windows)
    with pytest.raises(ClassifierMismatchError):  # refused on every frame, not only the first
        clf.predict(windows)
    handle.rollback()
    assert clf.predict(windows) == before
    assert clf.label == served.label
    same = served.model_copy(update={"version": "v9", "sha256": "1" * 64})
    handle.swap(loader.build_session(path, same, handle.slot))
    assert clf.predict(windows)[0] == pytest.approx(before[0], abs=1e-5)
    assert clf.label == f"{REGISTRY_NAME}@v9"


async def test_model_swap_refuses_a_classifier_that_does_not_match_the_sidecar(
    tmp_path: Path,
) -> None:
    """Up front: the `model_swap` command replies `manifest_mismatch` and the old model keeps
    serving; a matching model (another version) is swapped in."""
    from node.commands.errors import CommandError
    from node.commands.model_swap import ModelCommands, ModelSwapParams
    from schemas.commands import ErrorCode

    loader = _loader(tmp_path)
    classifier_from(MovementConfig(enabled=True), loader)
    handle = loader.handle(REGISTRY_NAME)
    original = handle.session
    published: list[str] = []

    async def publish(suffix: str, payload: bytes) -> None:
        published.append(suffix)

    commands = ModelCommands(loader, publish)
    served = original.manifest
    reordered = served.model_copy(update={"labels": list(reversed(served.labels))})
    bad = ModelSwapParams(analytic="movement.classifier", name=REGISTRY_NAME,
                          sha256=served.sha256, manifest=reordered)
    with pytest.raises(CommandError) as info:
        await commands.swap(bad, None)  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.MANIFEST_MISMATCH and "labels" in str(info.value)
    assert handle.session is original and published == []
    good = ModelSwapParams(analytic="movement.classifier", name=REGISTRY_NAME, version="v2")
    state = await commands.swap(good, None)  # type: ignore[arg-type]
    assert handle.session is not original and handle.version == "v2" and state
