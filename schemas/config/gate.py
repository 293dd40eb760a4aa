"""The authorisation gate: which analytics run only while a recognised, authorised person is there.

Authorised identities live in the face gallery (``face_authorise`` / ``face_revoke``), not here.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from schemas.config.base import ConfigSection


class GateMode(str, Enum):
    OPEN = "open"  # gated analytics always run
    FACE = "face"  # gated analytics run only during a session opened by an authorised face


class GateScope(str, Enum):
    NODE = "node"  # a face on any camera unlocks every camera
    CAMERA = "camera"  # a face unlocks only the camera that saw it


class GateConfig(ConfigSection):
    mode: GateMode = Field(default=GateMode.OPEN, description="`open` or `face`.")
    scope: GateScope = Field(default=GateScope.NODE, description="What one session unlocks.")
    frames: int = Field(
        default=3,
        ge=1,
        description="Analysed frames in a row an authorised identity must be confirmed in.",
    )
    ttl_s: float = Field(
        default=60.0, gt=0, description="Session length, extended while the person stays."
    )
