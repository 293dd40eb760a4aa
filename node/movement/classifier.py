"""The temporal movement classifier: its sidecar manifest, pre-processing (feature windows ->
batch) and post-processing (probabilities -> per-class dicts). The ONNX session is a seam
(``ClassifierBackend``) so tests can inject a fake and the node can use its own sessions.

In the node the model comes through the model registry (``REGISTRY_NAME``, bundled, sha256-checked,
swappable like every other model: ``from_handle``); the sidecar still says how to feed it (feature
order, rate, window) and is checked against the registry entry. ``load`` opens a file directly
(offline evaluation, benchmarks, a custom ``analytics.movement.classifier`` sidecar)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from node.inference.session import SessionOptions, open_session
from node.movement.features import FEATURES

MODELS_DIR = Path(__file__).resolve().parents[2] / "models" / "movement"
DEFAULT_SIDECAR = MODELS_DIR / "movement_tcn.json"
REGISTRY_NAME = "movement_tcn"  # models/registry.yaml entry of the bundled classifier


class ClassifierMismatchError(ValueError):
    """The registry's classifier is not the one the sidecar describes."""


class ClassifierManifest(BaseModel):
    """Sidecar of the movement classifier (``movement_tcn.json``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    version: str
    classes: list[str] = Field(min_length=2, description="Output order of `probs`.")
    features: list[str] = Field(description="Feature order the model was trained on.")
    rate_hz: float = Field(gt=0, description="Resampling rate of the window.")
    steps: int = Field(gt=1, description="Window length in steps.")
    file: str
    sha256: str = ""

    @model_validator(mode="after")
    def _matches_code(self) -> ClassifierManifest:
        if tuple(self.features) != FEATURES:
            raise ValueError(
                f"model was trained on features {self.features}, this node computes "
                f"{list(FEATURES)}: retrain or update the node"
            )
        return self

    @classmethod
    def load(cls, path: Path) -> ClassifierManifest:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise FileNotFoundError(f"movement classifier manifest {path}: {err}") from err


class ClassifierBackend(Protocol):
    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


class OrtClassifierBackend:
    """An ONNX Runtime session on a classifier file, from the node's one session factory."""

    def __init__(self, path: Path, options: SessionOptions | None = None) -> None:
        """``options`` default: one intra-op thread, the best providers available."""
        self._session = open_session(path, options or SessionOptions(intra_op_threads=1))
        self._input = self._session.get_inputs()[0].name

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = self._session.run(None, {self._input: batch})[0]
        return np.asarray(out, dtype=np.float32)


class HandleClassifierBackend:
    """Runs the registry model through the node's swappable ``ModelHandle`` (the session is read
    once per call, so a ``model_swap`` takes effect between two frames).

    A session it has not run before (a ``model_swap`` or ``model_rollback`` of the slot) is first
    checked against the sidecar (labels and input shape; the sha256 may differ after a swap): a
    classifier with another class order or window would otherwise be read silently wrong. A
    mismatching one is refused with ``ClassifierMismatchError`` on every call (the pipeline logs
    and counts the analytic's failures) until the slot serves a matching model again."""

    def __init__(self, handle: Any, manifest: ClassifierManifest | None = None) -> None:
        self._handle = handle
        self._manifest = manifest
        self._checked: Any = handle.session  # ``from_handle`` checked it (sha256 included)

    @property
    def label(self) -> str:
        """``name@version`` of the registry model last checked and run."""
        m = self._checked.manifest
        return f"{m.name}@{m.version}"

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        session = self._handle.session
        if session is not self._checked:
            if self._manifest is not None:
                check_registry_model(self._manifest, session.manifest, self._handle.slot,
                                     check_sha=False)
            self._checked = session
        out = session.run({session.manifest.inputs[0].name: batch})[0]
        return np.asarray(out, dtype=np.float32)


def check_registry_model(manifest: ClassifierManifest, served: Any, name: str,
                         check_sha: bool = True) -> None:
    """The registry model must be the one the sidecar describes: same classes in the same order,
    a ``(people, steps, features)`` input, and (when both know it and ``check_sha``) the same
    sha256."""
    problems: list[str] = []
    if list(served.labels) != list(manifest.classes):
        problems.append(f"labels {list(served.labels)} != sidecar classes {manifest.classes}")
    shape = list(served.inputs[0].shape) if served.inputs else []
    if len(shape) != 3 or shape[1:] != [manifest.steps, len(manifest.features)]:
        problems.append(
            f"input shape {shape} != [people, {manifest.steps}, {len(manifest.features)}]"
        )
    if check_sha and served.sha256 and manifest.sha256 and served.sha256 != manifest.sha256:
        problems.append(f"sha256 {served.sha256[:12]}... != sidecar {manifest.sha256[:12]}...")
    if problems:
        raise ClassifierMismatchError(
            f"registry model {name} does not match the movement sidecar: " + "; ".join(problems)
        )


def make_batch(windows: list[npt.NDArray[np.float32]], steps: int) -> npt.NDArray[np.float32]:
    """Stack ``(steps, F)`` windows into ``(N, steps, F)``, checking each shape."""
    for i, w in enumerate(windows):
        if w.shape != (steps, len(FEATURES)):
            raise ValueError(f"window {i} must be ({steps}, {len(FEATURES)}), got {w.shape}")
    if not windows:
        return np.zeros((0, steps, len(FEATURES)), np.float32)
    return np.ascontiguousarray(np.stack(windows), dtype=np.float32)


def to_class_probs(probs: npt.NDArray[np.float32], classes: list[str]) -> list[dict[str, float]]:
    """``(N, C)`` probabilities -> one ``{class: p}`` per row."""
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(f"probs must be (N, {len(classes)}), got {probs.shape}")
    return [{c: float(p) for c, p in zip(classes, row, strict=True)} for row in probs]


@dataclass
class MovementClassifier:
    manifest: ClassifierManifest
    backend: ClassifierBackend

    @property
    def label(self) -> str:
        """``name@version``: the registry model being served (current after a ``model_swap``),
        else the sidecar's."""
        served = getattr(self.backend, "label", None)
        if isinstance(served, str):
            return served
        return f"{self.manifest.name}@{self.manifest.version}"

    def predict(self, windows: list[npt.NDArray[np.float32]]) -> list[dict[str, float]]:
        if not windows:
            return []
        batch = make_batch(windows, self.manifest.steps)
        return to_class_probs(self.backend.run(batch), self.manifest.classes)

    @classmethod
    def load(cls, sidecar: Path = DEFAULT_SIDECAR, options: SessionOptions | None = None,
             verify: bool = True) -> MovementClassifier:
        manifest = ClassifierManifest.load(sidecar)
        path = sidecar.parent / manifest.file
        if not path.is_file():  # before hashing: read_bytes would raise a bare OSError first
            raise FileNotFoundError(f"movement classifier {path} (named by {sidecar}) is missing")
        if verify and manifest.sha256:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != manifest.sha256:
                raise ValueError(f"{path}: sha256 {digest} != manifest {manifest.sha256}")
        return cls(manifest, OrtClassifierBackend(path, options))

    @classmethod
    def from_handle(cls, handle: Any, sidecar: Path = DEFAULT_SIDECAR) -> MovementClassifier:
        """The classifier served by the node's model loader (``handle.session`` is a
        ``ModelSession``), checked against the sidecar."""
        from node.commands.model_swap import register_slot_check

        manifest = ClassifierManifest.load(sidecar)
        check_registry_model(manifest, handle.session.manifest, handle.slot)

        slot = handle.slot  # not the handle: the check must not keep its (weak) key alive

        def swap_check(candidate: Any) -> None:  # `model_swap` refuses a mismatching model
            check_registry_model(manifest, candidate, slot, check_sha=False)

        register_slot_check(handle, swap_check)
        return cls(manifest, HandleClassifierBackend(handle, manifest))


def describe(c: MovementClassifier) -> dict[str, Any]:
    m = c.manifest
    return {"model": c.label, "classes": m.classes, "rate_hz": m.rate_hz, "steps": m.steps}
