"""Explanations on demand (the ``explain`` command) and on events (per analytic)."""

from __future__ import annotations

from pydantic import Field

from schemas.config.base import ConfigSection
from schemas.explain import ExplainMethod


class ExplainConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Accept the `explain` command.")
    max_budget: int = Field(
        default=2000, ge=1, le=20000,
        description="Most forward passes one explanation may ask for (`budget` above it is "
        "refused).",
    )  # fmt: skip
    deadline_s: float = Field(
        default=120.0, gt=0,
        description="An explanation still running after this long is stopped and refused.",
    )  # fmt: skip
    max_pending: int = Field(
        default=4, ge=1,
        description="Explanations queued or running at once; more are refused as `unavailable` "
        "(one runs at a time).",
    )  # fmt: skip
    remember_events: int = Field(
        default=32, ge=0,
        description="Recent events whose frame is kept so `event_id` can be explained.",
    )  # fmt: skip
    nice: int = Field(
        default=10, ge=0, le=19,
        description="Niceness of the explanation worker thread (Linux), so cameras keep their "
        "frame rate while it runs; 0 leaves it at the node's priority.",
    )  # fmt: skip
    intra_op_threads: int = Field(
        default=1, ge=1,
        description="ONNX Runtime threads of the explanation's own model sessions (they run in "
        "the worker thread, at its priority).",
    )  # fmt: skip
    jpeg_quality: int = Field(default=80, ge=10, le=100, description="Overlay JPEG quality.")
    max_width: int = Field(default=1280, gt=0, description="Downscale overlays to this width.")


class ExplainOnEvents(ConfigSection):
    """Attach an explanation to this analytic's ``new`` events of chosen types."""

    types: list[str] = Field(
        default_factory=list,
        description="Event types whose `new` events are explained (empty: none).",
    )
    method: ExplainMethod | None = Field(
        default=None,
        description="Method (default: rise for fire, drise for objects, occlusion for faces).",
    )
    budget: int | None = Field(
        default=None, ge=1, description="Forward passes (default: the method's default)."
    )
