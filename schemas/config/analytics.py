"""Per-analytic configuration. Each analytic has its own section under ``analytics:``."""

from __future__ import annotations

from pydantic import Field

from schemas.config.analytic import AnalyticConfig
from schemas.config.base import ConfigSection
from schemas.config.faces import FacesConfig
from schemas.config.fire import FireConfig
from schemas.config.movement import MovementConfig
from schemas.config.objects import ObjectsConfig

__all__ = ["AnalyticConfig", "AnalyticsConfig", "NoopAnalyticConfig", "SyntheticAnalyticConfig"]


class NoopAnalyticConfig(AnalyticConfig):
    """A model that does nothing: measures the pipeline's own overhead."""


class SyntheticAnalyticConfig(AnalyticConfig):
    """A synthetic detector: one new occurrence every N analysed frames (demos, delivery tests).
    Its events are of type ``synthetic``: every published type has its attributes model, so the
    type is not configurable."""

    every_n_frames: int = Field(
        default=10, ge=1, description="Start a new occurrence every N analysed frames."
    )
    end_after_s: float = Field(
        default=1.0, gt=0, description="An occurrence ends this long after its frame."
    )


class AnalyticsConfig(ConfigSection):
    noop: NoopAnalyticConfig = Field(default_factory=NoopAnalyticConfig)
    synthetic: SyntheticAnalyticConfig = Field(default_factory=SyntheticAnalyticConfig)
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    faces: FacesConfig = Field(default_factory=FacesConfig)
    fire: FireConfig = Field(default_factory=FireConfig)
    movement: MovementConfig = Field(default_factory=MovementConfig)
