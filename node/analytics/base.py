"""The interface every analytic (objects, faces, fire, movement, ...) implements.

An *analytic factory* is built once per node (it owns the shared ONNX session); it creates one
*analytic* per camera (which owns per-camera state such as a tracker). ``analyze`` is synchronous
and runs in the inference thread pool, never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from node.frame import Frame
from schemas.attributes import EventAttributes
from schemas.config.analytics import AnalyticConfig
from schemas.events import Severity


@dataclass
class Observation:
    """One occurrence an analytic reports in one frame.

    ``key`` identifies the occurrence within its camera and analytic across frames (a track id,
    or a constant such as ``"fire"`` for scene-level analytics). Only ``confirmed`` observations
    become events; the analytic decides what confirmation means (hits, median score, k-of-n).
    ``attributes`` is the model of ``type`` (``schemas.attributes.EVENT_TYPES``): the event
    publishes exactly what it declares.
    """

    key: str
    type: str
    label: str
    score: float
    box: npt.NDArray[np.float32] | None = None  # xyxy absolute pixels of the frame
    severity: Severity = Severity.INFO
    attributes: EventAttributes = field(default_factory=EventAttributes)
    confirmed: bool = True
    stationary: bool = False  # a stationary object does not re-alert (no updates)
    instant: bool = False  # a one-off (a line crossed): one `new` event, no update, no end
    ended_at: float | None = None  # wall time it ended (left the zone): its `end` comes now


@dataclass
class AnalysisResult:
    """What one analytic produced for one frame."""

    analytic: str
    outputs: dict[str, Any]  # JSON-serialisable raw outputs (boxes, labels, scores, ...)
    observations: list[Observation] = field(default_factory=list)
    inference_ms: float = 0.0
    overlay: npt.NDArray[np.uint8] | None = None  # optional BGR image for snapshots (heatmap)


class Analytic(Protocol):
    """Per-camera analytic. Called from one worker thread at a time per camera."""

    name: str

    def analyze(self, frame: Frame) -> AnalysisResult: ...

    def reset(self) -> None:
        """Forget per-camera state (e.g. after the source reconnects)."""

    # Optional: ``finish(t) -> list[Observation]``, called once when the source ends for good
    # (a file without ``loop``), for conclusions only the end allows (movement: still down).


class AnalyticFactory(Protocol):
    """Per-node analytic: owns the model, creates per-camera analytics."""

    name: str
    config: AnalyticConfig
    gated: bool  # True: runs only while the authorisation gate is open
    end_after_s: float  # an occurrence unseen for this long ends
    model_label: str | None  # "name@version" for events, None when there is no model

    def create(self, camera: str) -> Analytic: ...

    def close(self) -> None: ...
