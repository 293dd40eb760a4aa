"""Bundled registry entries: models shipped in the repo, checked in place, never downloaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from node.inference.errors import ChecksumMismatchError, FetchFailedError, ModelError
from node.registry.defaults import RegistryEntry, bundled_models_dir, default_registry
from node.registry.loader import ModelLoader
from node.registry.store import ModelStore
from schemas.config.models import ModelsConfig
from tests.inference.tiny_models import add_manifest, add_model, sha256


def bundled_store(tmp_path: Path, sha: str | None = None) -> tuple[ModelStore, Path]:
    root = tmp_path / "repo_models"
    model = root / "pkg" / "adder.onnx"
    model.parent.mkdir(parents=True)
    add_model(model, 1.0)
    manifest = add_manifest(path=model)
    if sha is not None:
        manifest = manifest.model_copy(update={"sha256": sha})
    entry = RegistryEntry(file="adder.onnx", bundled="pkg/adder.onnx", manifest=manifest)
    store = ModelStore(
        tmp_path / "store", {"adder": entry}, mirror="http://127.0.0.1:9/none",
        progress_stream=None, bundled_root=root,
    )
    return store, model


def test_bundled_model_is_used_in_place_and_never_fetched(tmp_path: Path) -> None:
    store, model = bundled_store(tmp_path)
    assert store.path("adder") == model
    assert store.source("adder") == "bundled:pkg/adder.onnx"
    result = store.pull("adder")  # the mirror is unreachable: a fetch would fail
    assert (result.action, result.path) == ("present", model)
    path, manifest = store.ensure("adder", pull_missing=False)
    assert path == model and manifest.name == "adder"
    assert store.status("adder").present
    assert not (tmp_path / "store").exists()  # nothing copied into the user's store


def test_bundled_model_with_changed_bytes_is_refused(tmp_path: Path) -> None:
    store, _model = bundled_store(tmp_path, sha="0" * 64)
    assert not store.verify("adder").ok
    with pytest.raises(ChecksumMismatchError):
        store.pull("adder")
    with pytest.raises(ChecksumMismatchError):
        store.ensure("adder")


def test_missing_bundled_model_is_a_clear_error(tmp_path: Path) -> None:
    store, model = bundled_store(tmp_path)
    model.unlink()
    with pytest.raises(FetchFailedError, match="bundled model missing"):
        store.ensure("adder")


def test_bundled_name_cannot_be_imported_over(tmp_path: Path) -> None:
    store, model = bundled_store(tmp_path)
    copy = tmp_path / "copy.onnx"
    shutil.copyfile(model, copy)
    with pytest.raises(ModelError, match="bundled"):
        store.import_file(copy, "adder")


def test_loader_serves_a_bundled_model(tmp_path: Path) -> None:
    store, model = bundled_store(tmp_path)
    handle = ModelLoader(store, ModelsConfig(pull_missing=False)).load("adder", analytic="x")
    assert handle.session.manifest.sha256 == sha256(model)


@pytest.mark.parametrize(
    "bundled", ["../outside.onnx", "/abs/adder.onnx", "adder.onnx", "pkg/other.onnx"]
)
def test_bundled_path_must_stay_under_models_and_name_the_file(bundled: str) -> None:
    manifest = default_registry()["fire_cls"].manifest
    with pytest.raises(ValidationError):
        RegistryEntry(file="adder.onnx", bundled=bundled, manifest=manifest)


@pytest.mark.parametrize("name", ["fire_cls", "fire_cls_int8", "fire_gradcam", "movement_tcn"])
def test_shipped_bundled_entries_verify_in_the_repo(name: str, tmp_path: Path) -> None:
    entry = default_registry()[name]
    assert entry.bundled is not None
    store = ModelStore(tmp_path, progress_stream=None)
    assert store.path(name) == bundled_models_dir() / entry.bundled
    assert store.verify(name).ok, f"{entry.bundled} does not match models/registry.yaml"
