"""The fields every analytic's config section shares (one file, so sections import it without a
cycle through ``analytics.py``, which imports the sections)."""

from __future__ import annotations

from pydantic import Field

from schemas.config.base import ConfigSection
from schemas.config.explain import ExplainOnEvents


class AnalyticConfig(ConfigSection):
    enabled: bool = Field(default=False, description="Run this analytic.")
    fps: float = Field(default=5.0, gt=0, description="Most analyses per second per camera.")
    cameras: list[str] | None = Field(
        default=None, description="Restrict to these cameras (default: all)."
    )
    update_interval_s: float = Field(
        default=5.0, ge=0, description="Least time between two `update` events of one track."
    )
    explain: ExplainOnEvents = Field(
        default_factory=ExplainOnEvents,
        description="Attach an explanation (heatmap) to `new` events of chosen types.",
    )
