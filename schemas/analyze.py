"""Lines printed by ``citywatch analyse --json``: one ``AnalyzedFrame`` per analysed frame, then
one ``AnalyzeEventLine`` per event the node would publish for it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Event


class AnalyzedFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Path of the image or video.")
    frame: int = Field(ge=0, description="Frame index in the source (0 for an image).")
    width: int = Field(gt=0, description="Frame width in pixels.")
    height: int = Field(gt=0, description="Frame height in pixels.")
    time_s: float = Field(ge=0, description="Position in the video, seconds (0 for an image).")
    models: dict[str, dict[str, Any]] = Field(
        description="Per analytic its outputs; boxes are absolute [x1, y1, x2, y2] pixels."
    )
    inference_ms: dict[str, float] = Field(
        default_factory=dict, description="Per analytic the model time of this frame."
    )


class AnalyzeEventLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Event = Field(description="An event exactly as the node would publish it.")
