"""Explanations on demand: the ``explain`` command's params and the report it (and
``citywatch explain --json``) returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ExplainMethod = Literal["cam", "gradcam", "rise", "drise", "occlusion", "lime"]
ExplainModel = Literal["fire", "objects", "suspect", "faces"]
METHODS: tuple[ExplainMethod, ...] = ("cam", "gradcam", "rise", "drise", "occlusion", "lime")
MODELS: tuple[ExplainModel, ...] = ("fire", "objects", "suspect", "faces")


class ExplainParams(BaseModel):
    """``explain``: why did a model say what it said about an event's frame (``event_id``) or a
    camera's latest frame (``camera`` + ``model``)?"""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(
        default=None, max_length=128, description="Explain the frame of this recent event."
    )
    camera: str | None = Field(
        default=None, min_length=1, max_length=64, description="Or: this camera's latest frame."
    )
    model: ExplainModel | None = Field(
        default=None,
        description="Which model to explain; required with camera, taken from the event's "
        "analytic with event_id.",
    )
    method: ExplainMethod = Field(description="Explanation method.")
    target: str | None = Field(
        default=None, max_length=64, description="Class to explain (default: the event's label, "
        "else the top class or detection)."
    )
    box: list[float] | None = Field(
        default=None, min_length=4, max_length=4,
        description="Detection to explain, x1, y1, x2, y2 in frame pixels (default: the event's "
        "box).",
    )  # fmt: skip
    identity: str | None = Field(
        default=None, max_length=64, description="Faces: the enrolled identity to explain."
    )
    budget: int | None = Field(
        default=None, ge=1, description="Forward passes at most (default per method; the node's "
        "explain.max_budget caps it)."
    )
    seed: int = Field(default=0, ge=0, description="Random masks' seed (reproducible maps).")

    @model_validator(mode="after")
    def _one_source(self) -> ExplainParams:
        if (self.event_id is None) == (self.camera is None):
            raise ValueError("give exactly one of event_id or camera")
        if self.camera is not None and self.model is None:
            raise ValueError("model is required with camera")
        if self.box is not None and not (self.box[0] < self.box[2] and self.box[1] < self.box[3]):
            raise ValueError("box must be x1, y1, x2, y2 with x1 < x2 and y1 < y2")
        return self


class ExplainReport(BaseModel):
    """One explanation: where the map peaks and the smallest box holding its top 20 % of mass,
    in image pixels."""

    model_config = ConfigDict(extra="forbid")

    method: ExplainMethod
    model: ExplainModel
    target: str = Field(description="What was explained: class, class@box or identity@box.")
    peak: tuple[int, int] = Field(description="[x, y] of the map's maximum, image pixels.")
    box: tuple[int, int, int, int] = Field(
        description="[x1, y1, x2, y2]: the smallest box holding the map's strongest pixels that "
        "carry 20 % of its positive mass."
    )
    masks: int = Field(ge=0, description="Forward passes spent (0: read from the frame's pass).")
    ms: float = Field(ge=0, description="Wall time of the explanation.")
    score: float | None = Field(default=None, description="The explained score, unperturbed.")
    regions: dict[str, float] | None = Field(
        default=None, description="Faces, occlusion: similarity drop per named region."
    )
    image: tuple[int, int] | None = Field(default=None, description="[width, height].")
    topic: str | None = Field(default=None, description="MQTT: where the overlay JPEG went.")
    event_id: str | None = None
    camera: str | None = None
