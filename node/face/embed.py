"""Face embedders: pure pre/post-processing, with the input contract read from a manifest.

The default is MobileFaceNet (112x112 RGB, (x/255-0.5)/0.5, 128-d). Any other embedder (e.g. a
FaceNet/InceptionResnetV1 export: 160x160 RGB, (x-127.5)/128, 512-d) plugs in by shipping a
manifest (``schemas.manifest.ModelManifest``) whose first input/output and normalisation fill
``EmbedderContract``; alignment follows the contract's size; nothing else changes.
Every embedding is L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from node.face.yunet import Runner

F32 = npt.NDArray[np.float32]


class EmbedderContract(BaseModel):
    """What an embedder expects and returns: ``x' = (x * scale - mean) / std`` per channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Registry name, e.g. `mobilefacenet`.")
    input_name: str = Field(description="ONNX input tensor name.")
    output_name: str = Field(description="ONNX output tensor name.")
    size: int = Field(gt=0, description="Square aligned crop side in pixels.")
    color: Literal["RGB", "BGR"] = "RGB"
    scale: float = Field(default=1.0, gt=0, description="Multiplies raw 0-255 pixels first.")
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dim: int = Field(gt=0, description="Embedding length.")

    @classmethod
    def from_manifest(cls, manifest: Any) -> EmbedderContract:
        """Read the contract from a ``schemas.manifest.ModelManifest`` (duck-typed here so the
        face code does not depend on the registry's internals)."""
        inp, out = manifest.inputs[0], manifest.outputs[0]
        norm = inp.normalization
        dim = getattr(manifest.decoding, "dim", None) or out.shape[-1]

        def three(v: tuple[float, ...]) -> tuple[float, float, float]:
            return (v[0], v[0], v[0]) if len(v) == 1 else (v[0], v[1], v[2])

        return cls(
            name=manifest.name,
            input_name=inp.name,
            output_name=out.name,
            size=int(inp.shape[-1]),
            color=inp.color or "RGB",
            scale=norm.scale if norm else 1.0,
            mean=three(norm.mean) if norm else (0.0, 0.0, 0.0),
            std=three(norm.std) if norm else (1.0, 1.0, 1.0),
            dim=int(dim),
        )


MOBILEFACENET = EmbedderContract(
    name="mobilefacenet",
    input_name="input0",
    output_name="output0",
    size=112,
    color="RGB",
    scale=1 / 255,  # (x/255 - 0.5)/0.5
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    dim=128,
)

FACENET_VGGFACE2 = EmbedderContract(
    name="facenet",
    input_name="input",
    output_name="embedding",
    size=160,
    color="RGB",
    mean=(127.5, 127.5, 127.5),  # facenet-pytorch fixed_image_standardization: (x-127.5)/128
    std=(128.0, 128.0, 128.0),
    dim=512,
)

KNOWN: dict[str, EmbedderContract] = {c.name: c for c in (MOBILEFACENET, FACENET_VGGFACE2)}


def preprocess(crops_bgr: Sequence[npt.NDArray[np.uint8]], c: EmbedderContract) -> F32:
    """Aligned BGR crops (size x size) → NCHW float32 batch."""
    if not crops_bgr:
        return np.zeros((0, 3, c.size, c.size), np.float32)
    batch = np.stack(crops_bgr)
    if batch.shape[1:] != (c.size, c.size, 3):
        raise ValueError(f"crops must be {c.size}x{c.size}x3, got {batch.shape[1:]}")
    if c.color == "RGB":
        batch = batch[..., ::-1]
    mean, std = np.asarray(c.mean, np.float32), np.asarray(c.std, np.float32)
    x = (batch.astype(np.float32) * np.float32(c.scale) - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def l2_normalise(raw: npt.NDArray[np.floating]) -> F32:
    x = np.asarray(raw, np.float32).reshape(len(raw), -1)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    out: F32 = x / np.maximum(norm, 1e-12)
    return out


@dataclass
class Embedder:
    """Runs one embedder. Models exported with batch 1 are fed one crop at a time."""

    run: Runner
    contract: EmbedderContract
    batch: bool = False

    @property
    def label(self) -> str:
        return f"{self.contract.name}:{self.contract.dim}"

    def embed(self, crops_bgr: Sequence[npt.NDArray[np.uint8]]) -> F32:
        x = preprocess(crops_bgr, self.contract)
        if len(x) == 0:
            return np.zeros((0, self.contract.dim), np.float32)
        if self.batch:
            raw = self.run({self.contract.input_name: x})[self.contract.output_name]
        else:
            raw = np.concatenate(
                [self.run({self.contract.input_name: x[i : i + 1]})[self.contract.output_name]
                 for i in range(len(x))]
            )
        if raw.shape != (len(x), self.contract.dim):
            raise ValueError(
                f"{self.contract.name}: expected output ({len(x)},{self.contract.dim}), "
                f"got {raw.shape}"
            )
        return l2_normalise(raw)
