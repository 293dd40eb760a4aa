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


BUNDLED_PATTERN = r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*/[A-Za-z0-9_.-]+\.onnx$"


class RegistryEntry(Frozen):
    """One model the store knows: its file name in the store and mirrors, and its manifest.

    ``bundled`` entries ship inside the repository (a path relative to its ``models/`` package,
    e.g. ``fire/fire_fp32.onnx``): they are never downloaded, only sha256-checked in place.
    """

    file: str = Field(pattern=FILE_PATTERN, description="File name in the store and in mirrors.")
    manifest: ModelManifest
    bundled: str | None = Field(
        default=None,
        pattern=BUNDLED_PATTERN,
        description="Path of a model shipped in the repo, relative to its `models/` package.",
    )
    obtain: str | None = Field(
        default=None,
        description="When upstream publishes no file to download: the command that makes the "
        "pinned file from what upstream does publish (checked against the sha256 on import).",
    )

    @model_validator(mode="after")
    def _bundled_file(self) -> RegistryEntry:
        if self.bundled is not None and self.bundled.rsplit("/", 1)[-1] != self.file:
            raise ValueError(f"bundled path {self.bundled!r} does not end in file {self.file!r}")
        return self


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


def bundled_models_dir() -> Path:
    """The repo's ``models/`` package: where ``bundled`` registry paths are resolved."""
    # Editable installs and source checkouts: <repo>/models next to node/.
    return Path(__file__).resolve().parents[2] / "models"


def default_registry_path() -> Path:
    return bundled_models_dir() / "registry.yaml"


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
