"""The pinned default models, read from ``models/registry.yaml`` (validated on load)."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from node.inference.errors import ModelError
from schemas.base import Frozen
from schemas.manifest import ModelManifest

FILE_PATTERN = r"^[A-Za-z0-9_.-]+\.onnx$"


class RegistryEntry(Frozen):
    """One model the store knows: its file name in the store and mirrors, and its manifest."""

    file: str = Field(pattern=FILE_PATTERN, description="File name in the store and in mirrors.")
    manifest: ModelManifest


class RegistryFile(Frozen):
    models: dict[str, RegistryEntry]

    @model_validator(mode="after")
    def _names_match(self) -> RegistryFile:
        for key, entry in self.models.items():
            if entry.manifest.name != key:
                raise ValueError(f"entry {key!r} holds a manifest named {entry.manifest.name!r}")
        return self


class RegistryError(ModelError):
    pass


def default_registry_path() -> Path:
    # Editable installs and source checkouts: <repo>/models/registry.yaml next to node/.
    return Path(__file__).resolve().parents[2] / "models" / "registry.yaml"


def load_registry(path: Path) -> dict[str, RegistryEntry]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise RegistryError(f"cannot read model registry {path}: {err}") from err
    try:
        return dict(RegistryFile.model_validate(raw).models)
    except ValidationError as err:
        raise RegistryError(f"invalid model registry {path}: {err}") from err


@functools.lru_cache(maxsize=1)
def default_registry() -> dict[str, RegistryEntry]:
    return load_registry(default_registry_path())
