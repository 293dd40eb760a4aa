"""Detection events published on ``citywatch/<node_id>/events/<type>``.

Every event carries a stable ``event_id`` (unique per message, consumers de-duplicate on it) and a
``track_id`` stable across the lifecycle of one real-world occurrence: ``new`` once, then
rate-limited ``update``\\s, then ``end``. Its ``attributes`` are the model of its ``type``
(``schemas.attributes.EVENT_TYPES``).

Reading and writing differ on purpose (docs/mqtt.md, "Versions"): ``Event`` reads any ``1.x``
and keeps fields it does not know in ``model_extra``; the node passes every event it publishes
through ``ensure_writable``, which refuses anything undeclared, another version or an unknown type.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    TypeAdapter,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from schemas.attributes import EVENT_TYPES, EventAttributes, attributes_model
from schemas.version import SCHEMA_VERSION, SchemaVersion

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

    model_config = ConfigDict(extra="allow", frozen=True)

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
    """Common envelope of every detection event; ``attributes`` is the model of ``type``.

    Reads any ``1.x`` event: fields this version does not know are kept in ``model_extra`` (of the
    event, its box or its attributes), and a type it does not know gets plain
    ``EventAttributes`` with every key in ``model_extra``. A ``2.x`` event is refused
    (``UnsupportedVersionError`` in the validation error)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    schema_version: SchemaVersion = SCHEMA_VERSION
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
    attributes: SerializeAsAny[EventAttributes] = Field(
        description="Details of this type: the model `schemas.attributes.EVENT_TYPES[type]`.",
    )
    has_snapshot: bool = Field(
        default=False, description="A JPEG is on `<camera>/snapshot` and the event snapshot topic."
    )

    @field_validator("attributes", mode="before")
    @classmethod
    def _typed_attributes(cls, value: Any, info: ValidationInfo) -> Any:
        """Validate ``attributes`` with the model of ``type`` (a mapping, or that model)."""
        event_type = info.data.get("type", "")  # absent when `type` itself was invalid
        model = attributes_model(event_type)
        if isinstance(value, EventAttributes):
            # a type this version does not know takes any attributes (the writer refuses it)
            if type(value) is not model and event_type in EVENT_TYPES:
                raise ValueError(
                    f"attributes of a {event_type!r} event must be {model.__name__}, "
                    f"not {type(value).__name__}"
                )
            return value
        return model.model_validate(value)

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


class ContractError(ValueError):
    """An event the node must not publish: another version, an unknown type or undeclared fields."""


def undeclared_fields(model: BaseModel, path: str = "") -> list[str]:
    """Dotted paths of every key ``model`` (and the models inside it) kept without declaring it."""
    found = [f"{path}{key}" for key in model.model_extra or {}]
    for name in type(model).model_fields:
        found += _undeclared_in(getattr(model, name), f"{path}{name}")
    return found


def _undeclared_in(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return undeclared_fields(value, f"{path}.")
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _undeclared_in(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _undeclared_in(v, f"{path}.{k}")]
    return []


def ensure_writable(event: Event) -> Event:
    """``event`` if the node may publish it: the current version, a registered type, and not one
    field its models do not declare. The reader is lenient, the writer is not: an analytic that
    adds a key without declaring it in ``schemas/attributes.py`` fails here, in its tests."""
    where = f"{event.type!r} event on camera {event.camera!r}"
    if event.schema_version != SCHEMA_VERSION:
        raise ContractError(
            f"{where} says schema_version {event.schema_version!r}; the node writes "
            f"{SCHEMA_VERSION!r}"
        )
    if event.type not in EVENT_TYPES:
        raise ContractError(
            f"{where}: the type has no attributes model; add one to schemas/attributes.py and "
            "its line to EVENT_TYPES"
        )
    undeclared = undeclared_fields(event)
    if undeclared:
        model = EVENT_TYPES[event.type].__name__
        raise ContractError(
            f"{where} has undeclared field(s) {', '.join(undeclared)}; declare them "
            f"(attributes: in {model}, schemas/attributes.py; optional, a minor version)"
        )
    return event


def _event_branches() -> list[type[Event]]:
    """One ``Event`` per attributes model, its ``type`` the types of that model, and one for the
    types this version does not know. Only the JSON Schema uses them: ``Event`` itself picks the
    attributes model by ``type`` when it validates."""
    types_of: dict[type[EventAttributes], list[str]] = {}
    for event_type, model in EVENT_TYPES.items():
        types_of.setdefault(model, []).append(event_type)
    branches: list[type[Event]] = []
    for model, types in types_of.items():
        listed = ", ".join(f"`{t}`" for t in types)
        one_of_types: Any = Literal.__getitem__(tuple(types))
        branches.append(
            create_model(
                model.__name__.removesuffix("Attributes") + "Event",
                __base__=Event,
                __doc__=f"Event of type {listed}. {model.__doc__ or ''}".strip(),
                type=(one_of_types, Field(description="Event type, also the last topic level.")),
                attributes=(model, Field(description=f"Details of {listed} events.")),
            )
        )
    branches.append(
        create_model(
            "OtherEvent",
            __base__=Event,
            __doc__=(
                "An event of a type this version does not know (a newer minor version added it): "
                "the envelope as above, its attributes as they come."
            ),
            type=(
                str,
                Field(
                    description="Event type, also the last topic level.",
                    json_schema_extra={"not": {"enum": list(EVENT_TYPES)}},
                ),
            ),
        )
    )
    return branches


def event_json_schema() -> dict[str, Any]:
    """The published JSON Schema of events: ``oneOf`` one branch per event type (``type`` is a
    ``const``/``enum`` in each, so generated consumer types are a tagged union with typed
    attributes), plus ``OtherEvent`` for types a newer minor version adds. Plain JSON Schema: no
    OpenAPI ``discriminator`` keyword, which strict validators (ajv) refuse."""
    union: Any = Union.__getitem__(tuple(_event_branches()))
    schema = TypeAdapter(union).json_schema()
    return {
        "title": "Event",
        "description": (
            "A citywatch detection event (schemas/events.py). `attributes` depends on `type`; "
            "readers accept any 1.x and keep fields they do not know."
        ),
        "oneOf": schema.pop("anyOf"),
        **schema,
    }
