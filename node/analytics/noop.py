"""An analytic that does nothing: the baseline of the pipeline benchmark."""

from __future__ import annotations

from node.analytics.base import AnalysisResult, Analytic
from node.frame import Frame
from schemas.config.analytics import AnalyticConfig, NoopAnalyticConfig


class NoopAnalytic:
    name = "noop"

    def analyze(self, frame: Frame) -> AnalysisResult:
        return AnalysisResult(analytic=self.name, outputs={})

    def reset(self) -> None:
        return None


class NoopFactory:
    name = "noop"
    gated = False
    end_after_s = 1.0
    model_label: str | None = None

    def __init__(self, config: NoopAnalyticConfig) -> None:
        self.config: AnalyticConfig = config

    def create(self, camera: str) -> Analytic:
        return NoopAnalytic()

    def close(self) -> None:
        return None
