"""One analytic on one camera: ``AnalyticSlot`` holds the analytic, its event lifecycle, its rate
limiter and its live state (enabled, busy, reset pending), kept apart from the config."""

from __future__ import annotations

import time
from dataclasses import dataclass

from node.analytics.base import AnalysisResult, Analytic, AnalyticFactory
from node.frame import Frame
from node.lifecycle import EventLifecycle
from node.pipeline.ratelimit import RateLimiter


@dataclass
class AnalyticSlot:
    """One analytic on this camera and its live state (kept apart from the config)."""

    name: str
    factory: AnalyticFactory
    analytic: Analytic
    lifecycle: EventLifecycle
    limiter: RateLimiter
    enabled: bool
    busy: bool = False
    reset_pending: bool = False

    @classmethod
    def create(cls, factory: AnalyticFactory, node_id: str, camera: str) -> AnalyticSlot:
        return cls(
            name=factory.name,
            factory=factory,
            analytic=factory.create(camera),
            lifecycle=EventLifecycle(
                node_id,
                camera,
                update_interval_s=factory.config.update_interval_s,
                end_after_s=factory.end_after_s,
                model_label=factory.model_label,
            ),
            limiter=RateLimiter(factory.config.fps),
            enabled=factory.config.enabled,
        )


def applies_to(factory: AnalyticFactory, camera: str) -> bool:
    """Whether the analytic runs on ``camera`` (its ``cameras`` list, or every camera)."""
    cameras = factory.config.cameras
    return cameras is None or camera in cameras


def analyze(analytic: Analytic, frame: Frame, reset: bool) -> tuple[AnalysisResult, float]:
    """Worker-thread side: optional reset, then analyse and time it."""
    if reset:
        analytic.reset()
    t0 = time.perf_counter()
    result = analytic.analyze(frame)
    return result, (time.perf_counter() - t0) * 1000.0
