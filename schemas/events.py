"""Detection events published on ``citywatch/<node_id>/events/<type>``.

Every event carries a stable ``event_id`` (unique per message, consumers de-duplicate on it) and a
``track_id`` stable across the lifecycle of one real-world occurrence: ``new`` once, then
rate-limited ``update``\\s, then ``end``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.version import SCHEMA_VERSION

NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"


class Lifecycle(str, Enum):
    NEW = "new"
    UPDATE = "update"
    END = "end"


class Severity(str, Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Box(BaseModel):
    """Axis-aligned box in absolute pixels of the analysed frame, ``x1 <= x2``, ``y1 <= y2``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x1: float = Field(ge=0)
    y1: float = Field(ge=0)
    x2: float = Field(ge=0)
    y2: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(f"box corners out of order: {self.as_list()}")
        return self

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]

    @classmethod
    def from_xyxy(cls, xyxy: Any) -> Box:
        x1, y1, x2, y2 = (max(0.0, float(v)) for v in xyxy)
        return cls(x1=x1, y1=y1, x2=max(x1, x2), y2=max(y1, y2))


def new_event_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Event(BaseModel):
    """Common envelope of every detection event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = Field(
        default=SCHEMA_VERSION, description="Version of this contract."
    )
    event_id: str = Field(
        default_factory=new_event_id, description="Unique per message; de-duplicate on it."
    )
    node_id: str = Field(pattern=NAME_PATTERN, description="Node that produced the event.")
    camera: str = Field(pattern=NAME_PATTERN, description="Camera name from the node config.")
    type: str = Field(description="Event type, also the last topic level.")
    track_id: str = Field(description="Stable id of the occurrence across new/update/end.")
    lifecycle: Lifecycle
    created_at: datetime = Field(
        default_factory=utc_now, description="When the node created this message (UTC)."
    )
    started_at: datetime = Field(description="When the occurrence was first confirmed (UTC).")
    ended_at: datetime | None = Field(default=None, description="Set on `end` only.")
    frame_time: datetime | None = Field(
        default=None, description="Capture time of the frame the data comes from."
    )
    score: float = Field(ge=0.0, le=1.0, description="Confidence of the occurrence.")
    box: Box | None = Field(default=None, description="Where, in frame pixels.")
    frame_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) of the frame the box refers to."
    )
    label: str = Field(description="Main label, e.g. `person`, `knife`, `fire`, `fall`.")
    labels: list[str] = Field(default_factory=list, description="All labels seen so far.")
    severity: Severity = Severity.INFO
    model: str | None = Field(default=None, description="Model name@version that produced it.")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Type-specific details (identity, evidence, ...)."
    )
    has_snapshot: bool = Field(
        default=False, description="A JPEG is on `<camera>/snapshot` and the event snapshot topic."
    )

    @field_validator("created_at", "started_at", "ended_at", "frame_time")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        return v

    @model_validator(mode="after")
    def _end_has_time(self) -> Event:
        if self.lifecycle is Lifecycle.END and self.ended_at is None:
            raise ValueError("an `end` event needs ended_at")
        return self

    @property
    def topic_suffix(self) -> str:
        return f"events/{self.type}"


EventType = Annotated[str, Field(pattern=r"^[a-z0-9_.]+$")]
