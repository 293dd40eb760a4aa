"""The fire/smoke model at run time: its manifest (a JSON sidecar) and an ONNX Runtime seam.

The manifest carries what the ONNX graph cannot say by itself: labels, input size and
normalisation, the operating thresholds chosen at training time, and the classifier head
(weights and bias) that turns the exported feature map into a CAM. A manifest may also carry a
``localisation_head``: a second linear map over the same feature map, fitted to the labelled boxes
alone, so the box and heatmap can improve without moving any score. When present the node draws
its box and heatmap from it; otherwise from the classifier's CAM.

``FireBackend`` is the seam: in the node the model is a registry handle (``HandleFireBackend``);
``OrtFireBackend`` opens a file directly (``model_source: bundled``, evaluation) through the node's
one session factory; tests inject fakes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from node.fire.cam import FloatMap, class_activation_map
from node.fire.preprocess import preprocess
from node.inference.session import SessionOptions, open_session

MODELS_DIR = Path(__file__).resolve().parents[2] / "models" / "fire"
DEFAULT_MANIFEST = MODELS_DIR / "fire_cls.json"


class HeadWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: list[list[float]] = Field(description="(classes, channels) linear head weights.")
    bias: list[float] = Field(description="(classes,) head bias.")

    @model_validator(mode="after")
    def _shapes(self) -> HeadWeights:
        if len(self.weight) != len(self.bias) or len({len(r) for r in self.weight}) != 1:
            raise ValueError(
                f"head weight must be (classes, channels) with one bias per class; got "
                f"{len(self.weight)} rows of lengths {sorted({len(r) for r in self.weight})} "
                f"and {len(self.bias)} biases"
            )
        return self


class FireManifest(BaseModel):
    """Sidecar of the fire/smoke ONNX models (``fire_cls.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "fire"
    version: str
    labels: list[str] = Field(description="Output order of `scores`.")
    input_name: str = "input"
    input_size: int = Field(gt=0, description="Square input side in pixels.")
    color: str = Field(default="RGB", pattern="^RGB$")
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    feature_stride: int = Field(gt=0, description="Input pixels per feature-map cell.")
    thresholds: dict[str, float] = Field(description="Operating threshold per label.")
    head: HeadWeights
    localisation_head: HeadWeights | None = Field(
        default=None,
        description="Optional (classes, channels) linear map over the same feature map, fitted to "
        "the labelled boxes only; when present it replaces the classifier head for the box and "
        "heatmap (never for the scores).",
    )
    files: dict[str, str] = Field(description="Precision -> ONNX file name next to the manifest.")
    sha256: dict[str, str] = Field(default_factory=dict, description="File name -> sha256.")
    license: str = ""
    data: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> FireManifest:
        if len(self.head.bias) != len(self.labels):
            raise ValueError(f"head has {len(self.head.bias)} classes, labels {self.labels}")
        loc = self.localisation_head
        if loc is not None and (
            len(loc.bias) != len(self.labels) or len(loc.weight[0]) != len(self.head.weight[0])
        ):
            raise ValueError(
                f"localisation_head must match the head's shape ({len(self.labels)} classes x "
                f"{len(self.head.weight[0])} channels), got {len(loc.bias)} x {len(loc.weight[0])}"
            )
        missing = set(self.labels) - set(self.thresholds)
        if missing:
            raise ValueError(f"no threshold for labels {sorted(missing)}")
        return self

    @classmethod
    def load(cls, path: Path) -> FireManifest:
        return cls.model_validate_json(path.read_text())

    def head_arrays(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        return _arrays(self.head)

    def localisation_arrays(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The map the box and heatmap come from: the localisation head, else the classifier's."""
        return _arrays(self.localisation_head or self.head)


def _arrays(head: HeadWeights) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    return np.asarray(head.weight, dtype=np.float32), np.asarray(head.bias, dtype=np.float32)


@dataclass(frozen=True)
class FireOutput:
    scores: npt.NDArray[np.float32]  # (classes,) sigmoid scores
    features: npt.NDArray[np.float32]  # (C, h, w) last feature map


class FireBackend(Protocol):
    def run(self, batch: npt.NDArray[np.float32]) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float32]
    ]:
        """(N, 3, S, S) -> scores (N, classes), features (N, C, h, w)."""


class ModelFileError(RuntimeError):
    """The model file is missing or does not match its manifest."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class OrtFireBackend:
    """An ONNX Runtime session on one fire model file (``node.inference.open_session``: the
    configured providers, spin-waiting off)."""

    def __init__(
        self,
        model_path: Path,
        options: SessionOptions | None = None,
        expected_sha256: str | None = None,
    ) -> None:
        """``options`` default: one intra-op thread, the best providers available."""
        if not model_path.is_file():
            raise ModelFileError(f"fire model not found: {model_path}")
        if expected_sha256 is not None and sha256_of(model_path) != expected_sha256:
            raise ModelFileError(f"{model_path} does not match the sha256 in its manifest")
        self._session = open_session(model_path, options or SessionOptions(intra_op_threads=1))
        self._input = self._session.get_inputs()[0].name

    def run(self, batch: npt.NDArray[np.float32]) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float32]
    ]:
        scores, features = self._session.run(["scores", "features"], {self._input: batch})
        return np.asarray(scores, dtype=np.float32), np.asarray(features, dtype=np.float32)


class FireModel:
    """Manifest + backend: one BGR frame in, scores and feature map out."""

    def __init__(
        self, manifest: FireManifest, backend: FireBackend, classifier_cam: bool = False
    ) -> None:
        """``classifier_cam``: draw boxes from the classifier's CAM even when the manifest has a
        localisation head (to reproduce figures of manifests without one)."""
        self.manifest = manifest
        self.backend = backend
        self.head_weight, self.head_bias = manifest.head_arrays()
        use_head = classifier_cam or manifest.localisation_head is None
        self.cam_weight, self.cam_bias = (
            (self.head_weight, self.head_bias) if use_head else manifest.localisation_arrays()
        )
        # what event consumers are told the box came from
        self.localisation_source = "cam" if use_head else "localisation_head"

    def localisation_map(self, features: npt.NDArray[np.float32], k: int) -> FloatMap:
        """The map class ``k``'s box and heatmap come from (logit units, feature grid)."""
        return class_activation_map(features, self.cam_weight[k], float(self.cam_bias[k]))

    @classmethod
    def load(
        cls,
        manifest_path: Path = DEFAULT_MANIFEST,
        precision: str = "int8",
        options: SessionOptions | None = None,
    ) -> FireModel:
        manifest = FireManifest.load(manifest_path)
        try:
            file_name = manifest.files[precision]
        except KeyError:
            raise ModelFileError(
                f"no {precision!r} model in {manifest_path}; available: {sorted(manifest.files)}"
            ) from None
        backend = OrtFireBackend(
            manifest_path.parent / file_name, options, manifest.sha256.get(file_name)
        )
        return cls(manifest, backend)

    def input_for(self, image_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        m = self.manifest
        return preprocess(image_bgr, m.input_size, m.mean, m.std)

    def predict(self, image_bgr: npt.NDArray[np.uint8]) -> FireOutput:
        scores, features = self.backend.run(self.input_for(image_bgr))
        return FireOutput(scores[0], features[0])

    def predict_batch(self, images_bgr: list[npt.NDArray[np.uint8]]) -> list[FireOutput]:
        if not images_bgr:
            return []
        scores, features = self.backend.run(np.concatenate([self.input_for(i) for i in images_bgr]))
        return [FireOutput(s, f) for s, f in zip(scores, features, strict=True)]
