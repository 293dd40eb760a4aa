"""Model manifest: what a model file is, how to feed it and how to read its outputs.

Every ONNX model the node runs has one. ``node.inference.session.ModelSession`` checks the model's
real inputs and outputs against it when it loads, so a wrong file is refused before it serves.
Dynamic dimensions are written as a name (``"people"``) or ``null``; an integer in the manifest
is the size the node feeds (e.g. MoveNet is dynamic in H and W, the node feeds 256x256).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.base import Frozen
from schemas.events import NAME_PATTERN

SHA256_PATTERN = r"^[0-9a-f]{64}$"

DType = Literal["float32", "float16", "uint8", "int8", "int32", "int64", "bool"]
Dim = int | str | None

Family = Literal[
    "yolox", "yunet", "mobilefacenet", "movenet", "pose_sequence", "classifier_cam", "generic"
]
Task = Literal[
    "object_detection",
    "face_detection",
    "face_embedding",
    "pose_estimation",
    "sequence_classification",
    "image_classification",
    "other",
]


class Normalization(Frozen):
    """``x' = (x * scale - mean) / std`` per channel, after the colour conversion."""

    scale: float = Field(default=1.0, gt=0, description="Multiply raw 0-255 pixels first.")
    mean: tuple[float, ...] = Field(default=(0.0, 0.0, 0.0), description="Per-channel mean.")
    std: tuple[float, ...] = Field(default=(1.0, 1.0, 1.0), description="Per-channel std.")

    @model_validator(mode="after")
    def _same_channels(self) -> Normalization:
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean has {len(self.mean)} values but std has {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError("std values must be > 0")
        return self


class TensorSpec(Frozen):
    """One named tensor: its shape (dynamic dims as a name or null) and element type."""

    name: str = Field(min_length=1, description="Tensor name in the ONNX graph.")
    shape: list[Dim] = Field(description="Dimensions; a string or null is dynamic.")
    dtype: DType = Field(default="float32", description="Element type.")


class InputSpec(TensorSpec):
    """An input tensor; image inputs also say how pixels become numbers."""

    layout: Literal["NCHW", "NHWC"] | None = Field(
        default=None, description="Image layout; null for non-image inputs."
    )
    color: Literal["BGR", "RGB"] | None = Field(
        default=None, description="Channel order of image inputs."
    )
    normalization: Normalization | None = Field(
        default=None, description="Pixel normalisation; null feeds raw values."
    )
    resize: Literal["stretch", "letterbox_top_left", "letterbox_center"] = Field(
        default="stretch", description="How a frame is fitted to the input size."
    )
    pad_value: int = Field(default=114, ge=0, le=255, description="Letterbox padding value.")

    @model_validator(mode="after")
    def _image_fields(self) -> InputSpec:
        if self.layout is not None and len(self.shape) != 4:
            raise ValueError(f"input {self.name!r}: layout {self.layout} needs a 4-d shape")
        return self

    def image_size(self) -> tuple[int, int] | None:
        """``(height, width)`` fed to the model, or None when not an image or not fixed."""
        if self.layout is None:
            return None
        h, w = (self.shape[2], self.shape[3]) if self.layout == "NCHW" else self.shape[1:3]
        return (h, w) if isinstance(h, int) and isinstance(w, int) else None


class YoloxDecoding(Frozen):
    family: Literal["yolox"] = "yolox"
    strides: list[int] = Field(default=[8, 16, 32], description="Grid strides, in order.")
    num_classes: int = Field(gt=0, description="Class scores per anchor.")
    sigmoid_applied: bool = Field(
        default=True, description="Objectness and class scores are already probabilities."
    )


class YunetDecoding(Frozen):
    family: Literal["yunet"] = "yunet"
    strides: list[int] = Field(default=[8, 16, 32], description="Grid strides, in order.")
    num_landmarks: int = Field(default=5, gt=0, description="Landmarks per face.")


class EmbeddingDecoding(Frozen):
    family: Literal["mobilefacenet"] = "mobilefacenet"
    dim: int = Field(gt=0, description="Embedding length.")
    l2_normalize: bool = Field(default=True, description="Normalise before cosine similarity.")


class MovenetDecoding(Frozen):
    family: Literal["movenet"] = "movenet"
    max_people: int = Field(default=6, gt=0, description="People per image.")
    num_keypoints: int = Field(default=17, gt=0, description="Keypoints per person (y, x, score).")


class PoseSequenceDecoding(Frozen):
    family: Literal["pose_sequence"] = "pose_sequence"
    frames: int = Field(gt=0, description="Frames per sequence.")
    fps: float = Field(gt=0, description="Sampling rate of the sequence.")
    features: int = Field(gt=0, description="Features per frame.")


class ClassifierCamDecoding(Frozen):
    family: Literal["classifier_cam"] = "classifier_cam"
    activation: Literal["softmax", "sigmoid"] = Field(default="softmax", description="On logits.")
    cam_output: str | None = Field(default=None, description="Output holding the class maps.")


class GenericDecoding(Frozen):
    family: Literal["generic"] = "generic"


Decoding = Annotated[
    YoloxDecoding
    | YunetDecoding
    | EmbeddingDecoding
    | MovenetDecoding
    | PoseSequenceDecoding
    | ClassifierCamDecoding
    | GenericDecoding,
    Field(discriminator="family"),
]


class ModelManifest(Frozen):
    """The contract of one model file."""

    name: str = Field(pattern=NAME_PATTERN, description="Registry name, e.g. `yolox_nano`.")
    version: str = Field(min_length=1, max_length=64, description="Model version.")
    task: Task = Field(description="What the model does.")
    family: Family = Field(description="Pre/post-processing family.")
    inputs: list[InputSpec] = Field(min_length=1, description="Input tensors, in graph order.")
    outputs: list[TensorSpec] = Field(min_length=1, description="Output tensors, in graph order.")
    labels: list[str] = Field(default_factory=list, description="Class labels, by index.")
    decoding: Decoding | None = Field(default=None, description="Output decoding parameters.")
    sha256: str | None = Field(
        default=None, pattern=SHA256_PATTERN, description="Lower-case hex sha256 of the file."
    )
    size: int | None = Field(default=None, gt=0, description="File size in bytes.")
    license: str = Field(default="unknown", description="SPDX id or short license text.")
    source_url: str | None = Field(
        default=None, description="Pinned download URL; null when there is no direct one."
    )
    description: str = Field(default="", description="What it is and where it comes from.")

    @model_validator(mode="after")
    def _consistent(self) -> ModelManifest:
        if self.decoding is not None and self.decoding.family != self.family:
            raise ValueError(
                f"decoding is for family {self.decoding.family!r} but the model is {self.family!r}"
            )
        for group, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise ValueError(f"{group} repeat a tensor name: {names}")
        return self

    @property
    def label(self) -> str:
        """``name@version``, as events carry it."""
        return f"{self.name}@{self.version}"


class ModelRef(Frozen):
    name: str = Field(description="Registry name of the model.")
    version: str = Field(description="Model version.")
    sha256: str | None = Field(default=None, description="sha256 of the file.")


class ModelSlotState(Frozen):
    """Retained state ``<prefix>/<node_id>/state/model/<slot>``: what a model slot serves."""

    slot: str = Field(description="Model slot (the registry name it was first loaded as).")
    active: ModelRef = Field(description="The model serving now.")
    previous: ModelRef | None = Field(default=None, description="What `model_rollback` restores.")
    providers: list[str] = Field(default_factory=list, description="Execution providers in use.")
