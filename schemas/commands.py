"""Commands on ``<prefix>/<node_id>/cmd/<name>`` and replies on ``.../reply/<name>``.

A command payload is a JSON object::

    {"request_id": "abc", "params": {...}, "ts": 1700000000.0, "nonce": "n1", "sig": "hex"}

``ts``, ``nonce`` and ``sig`` are required only when the node demands signed commands. The
signature is HMAC-SHA256 (hex) with the node's secret over the canonical signing string
``"<name>\\n<ts>\\n<nonce>\\n<canonical JSON of params>"`` (see ``node.commands.signing``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.version import SCHEMA_VERSION, SchemaVersion


class ErrorCode(str, Enum):
    """Why a command was refused or failed. Each cause has its own code."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNKNOWN_COMMAND = "unknown_command"
    INVALID_ENVELOPE = "invalid_envelope"
    INVALID_PARAMS = "invalid_params"
    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    REPLAY = "replay"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    # model swap
    FETCH_FAILED = "fetch_failed"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    MODEL_LOAD_FAILED = "model_load_failed"
    MANIFEST_MISMATCH = "manifest_mismatch"
    NO_PREVIOUS_MODEL = "no_previous_model"
    # face enrollment
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_SMALL = "face_too_small"
    FACE_BLURRY = "face_blurry"
    BAD_IMAGE = "bad_image"
    BAD_ENCODING = "bad_encoding"
    FACE_POSE = "face_pose"
    # notifications
    NOTIFICATION_FAILED = "notification_failed"


class CommandEnvelope(BaseModel):
    """What every command payload looks like before its params are validated."""

    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(
        default=None, max_length=128, description="Echoed in the reply."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Command parameters.")
    ts: float | None = Field(default=None, description="Unix time of signing.")
    nonce: str | None = Field(
        default=None, min_length=8, max_length=128, description="Single-use value."
    )
    sig: str | None = Field(
        default=None, max_length=256, description="Hex HMAC-SHA256 signature."
    )


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: SchemaVersion = SCHEMA_VERSION
    node_id: str
    command: str
    request_id: str | None = None
    ok: bool
    code: ErrorCode | None = Field(default=None, description="Set when ok is false.")
    message: str | None = None
    data: dict[str, Any] | None = None


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetParams(BaseModel):
    """``set``: toggle a camera or an analytic at run time."""

    model_config = ConfigDict(extra="forbid")

    target: Literal["camera", "analytic"]
    name: str = Field(min_length=1, max_length=64)
    enabled: bool
    camera: str | None = Field(
        default=None, description="For analytics: only on this camera (default: all)."
    )


class SnapshotParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: str = Field(min_length=1, max_length=64)


class NotifyTestParams(BaseModel):
    """``notify_test``: send a test message to one target, or to every target of one rule."""

    model_config = ConfigDict(extra="forbid")

    rule: str | None = Field(default=None, max_length=64, description="A rule's name.")
    target: str | None = Field(default=None, max_length=64, description="A target's name.")
    message: str | None = Field(
        default=None, max_length=1000, description="Body of the test message."
    )

    @model_validator(mode="after")
    def _one_name(self) -> NotifyTestParams:
        if (self.rule is None) == (self.target is None):
            raise ValueError("give exactly one of `rule` and `target`")
        return self


class ResetCountsParams(BaseModel):
    """``reset_counts``: zero the in/out counts of lines and zones and restart their ``since``
    (occupancy is what is inside now and stays). Without parameters: every line and zone of
    every camera."""

    model_config = ConfigDict(extra="forbid")

    camera: str | None = Field(
        default=None, min_length=1, max_length=64, description="Only this camera."
    )
    line: str | None = Field(
        default=None, min_length=1, max_length=64, description="Only this line."
    )
    zone: str | None = Field(
        default=None, min_length=1, max_length=64, description="Only this zone."
    )

    @model_validator(mode="after")
    def _one_target(self) -> ResetCountsParams:
        if self.line is not None and self.zone is not None:
            raise ValueError("give `line` or `zone`, not both")
        return self
