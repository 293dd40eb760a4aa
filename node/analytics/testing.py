"""A synthetic detector: a deterministic stream of occurrences, no model.

Every ``every_n_frames`` analysed frames it reports one new occurrence (a fresh key), seen in that
frame only, so the lifecycle emits one ``new`` and, ``end_after_s`` later, one ``end``. Useful for
demos without a model and for delivery tests that must count events (``analytics.synthetic``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.analytics.base import AnalysisResult, Analytic, AnalyticFactory, Observation
from node.analytics.registry import AnalyticBuilder, BuildContext
from node.frame import Frame
from schemas.attributes import SyntheticAttributes
from schemas.config import NodeConfig
from schemas.config.analytics import AnalyticConfig, SyntheticAnalyticConfig

SYNTHETIC = "synthetic"  # the event type


class SyntheticAnalytic:
    name = "synthetic"

    def __init__(self, config: SyntheticAnalyticConfig) -> None:
        self._config = config
        self._analysed = 0
        self._occurrences = 0

    def analyze(self, frame: Frame) -> AnalysisResult:
        self._analysed += 1
        observations: list[Observation] = []
        if (self._analysed - 1) % self._config.every_n_frames == 0:
            self._occurrences += 1
            w, h = frame.width, frame.height
            observations.append(
                Observation(
                    key=f"synthetic-{self._occurrences}",
                    type=SYNTHETIC,
                    label="synthetic",
                    score=1.0,
                    box=_centre_box(w, h),
                    attributes=SyntheticAttributes(
                        sequence=self._occurrences, frame_index=frame.index
                    ),
                )
            )
        return AnalysisResult(
            analytic=self.name,
            outputs={"occurrences": self._occurrences, "emitted": len(observations)},
            observations=observations,
        )

    def reset(self) -> None:
        self._analysed = 0


def _centre_box(w: int, h: int) -> npt.NDArray[np.float32]:
    return np.array([w * 0.25, h * 0.25, w * 0.75, h * 0.75], dtype=np.float32)


class SyntheticFactory:
    name = "synthetic"
    gated = False
    model_label: str | None = None

    def __init__(self, config: SyntheticAnalyticConfig) -> None:
        self.config: AnalyticConfig = config
        self._config = config
        self.end_after_s = config.end_after_s

    def create(self, camera: str) -> Analytic:
        return SyntheticAnalytic(self._config)

    def close(self) -> None:
        return None


def _build_synthetic(config: NodeConfig, ctx: BuildContext) -> AnalyticFactory:
    return SyntheticFactory(config.analytics.synthetic)


build_synthetic = AnalyticBuilder(_build_synthetic, (SYNTHETIC,))
