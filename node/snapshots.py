"""Event snapshots: which image, what size, how encoded (pure functions + a small tap).

The sink asks ``SnapshotRenderer.render(event, frame)`` for the JPEGs of a ``new`` or ``end``
event *before* the event goes into the outbox, so ``has_snapshot`` is true only for events whose
JPEG exists. Rendering is blocking (resize, encode): the sink runs it in the executor.

An analytic may hand back an ``overlay`` image (fire: the frame with its CAM heatmap). The
pipeline only passes the analysed frame along with each event, so ``OverlayTap`` wraps every
factory and remembers each overlay by (frame, event type) for as long as that frame lives (the
lifecycle keeps a track's best frame alive until its ``end``).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import cv2
import numpy as np

from node.analytics.base import AnalysisResult, Analytic, AnalyticFactory
from node.analytics.objects import snapshot_crop
from node.frame import Frame, Image
from schemas.config.analytics import AnalyticConfig
from schemas.config.node import NodeConfig
from schemas.events import Event, Lifecycle

# Margin of a crop around the event's box for analytics without their own setting.
DEFAULT_CROP_MARGIN = 0.15


def encode_jpeg(image: Image, max_width: int, quality: int) -> bytes:
    """Downscale to ``max_width`` (keeping the aspect) and encode as JPEG."""
    h, w = image.shape[:2]
    if w > max_width:
        image = np.asarray(
            cv2.resize(image, (max_width, max(1, round(h * max_width / w)))), dtype=np.uint8
        )
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return bytes(buf.tobytes())


@dataclass(frozen=True)
class SnapshotSettings:
    enabled: bool
    max_width: int
    jpeg_quality: int
    crop: bool
    crop_margin: float = DEFAULT_CROP_MARGIN


def settings_for(config: NodeConfig, analytic: str | None) -> SnapshotSettings:
    """Node-wide ``snapshots`` overridden by the analytic's own ``snapshot`` section (objects)."""
    snap = config.snapshots
    base = SnapshotSettings(snap.enabled, snap.max_width, snap.jpeg_quality, snap.crop)
    section = getattr(config.analytics, analytic, None) if analytic else None
    own = getattr(section, "snapshot", None)
    if own is None:
        return base
    return SnapshotSettings(
        enabled=base.enabled and bool(own.enabled),
        max_width=own.max_width or base.max_width,
        jpeg_quality=own.jpeg_quality or base.jpeg_quality,
        crop=base.crop and bool(own.crop),
        crop_margin=float(own.crop_margin),
    )


@dataclass(frozen=True)
class Rendered:
    full: bytes
    crop: bytes | None


class OverlayTap:
    """Thread-safe memory of overlays (written by inference threads, read on the loop) and of
    which analytic produced each event type (for per-analytic snapshot settings)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._overlays: weakref.WeakKeyDictionary[Frame, dict[str, Image]] = (
            weakref.WeakKeyDictionary()
        )
        self._analytic_of: dict[str, str] = {}

    def record(self, analytic: str, frame: Frame, result: AnalysisResult) -> None:
        types = {o.type for o in result.observations}
        with self._lock:
            for t in types:
                self._analytic_of.setdefault(t, analytic)
            if result.overlay is not None and types:
                slot = self._overlays.setdefault(frame, {})
                for t in types:
                    slot[t] = result.overlay

    def overlay(self, frame: Frame, event_type: str) -> Image | None:
        with self._lock:
            return self._overlays.get(frame, {}).get(event_type)

    def analytic_of(self, event_type: str) -> str | None:
        with self._lock:
            return self._analytic_of.get(event_type)

    def wrap(self, factory: AnalyticFactory) -> AnalyticFactory:
        return TappedFactory(factory, self)


class TappedAnalytic:
    def __init__(self, inner: Analytic, factory: str, tap: OverlayTap) -> None:
        self.name = inner.name
        self._inner = inner
        self._factory = factory
        self._tap = tap

    def analyze(self, frame: Frame) -> AnalysisResult:
        result = self._inner.analyze(frame)
        self._tap.record(self._factory, frame, result)
        return result

    def reset(self) -> None:
        self._inner.reset()


class TappedFactory:
    """Forwards an ``AnalyticFactory``; its analytics report their results to the tap. The
    attributes are copied once: the pipeline reads them when it creates its slots."""

    def __init__(self, inner: AnalyticFactory, tap: OverlayTap) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.config: AnalyticConfig = inner.config
        self.gated: bool = inner.gated
        self.end_after_s: float = inner.end_after_s
        self.model_label: str | None = inner.model_label
        self._tap = tap

    def create(self, camera: str) -> Analytic:
        return TappedAnalytic(self.inner.create(camera), self.name, self._tap)

    def close(self) -> None:
        self.inner.close()


class SnapshotRenderer:
    def __init__(self, config: NodeConfig, tap: OverlayTap) -> None:
        self._config = config
        self._tap = tap

    def wanted(self, event: Event) -> bool:
        return settings_for(self._config, self._tap.analytic_of(event.type)).enabled

    def render(self, event: Event, frame: Frame) -> Rendered:
        """Blocking. The full image (the overlay when the analytic gave one) and, for ``new``
        events with a box, a crop of the raw frame (an ``end`` event's box is its last sighting,
        not necessarily where it was in the best frame)."""
        s = settings_for(self._config, self._tap.analytic_of(event.type))
        overlay = self._tap.overlay(frame, event.type)
        image = overlay if overlay is not None else frame.image
        full = encode_jpeg(image, s.max_width, s.jpeg_quality)
        crop = None
        if s.crop and event.box is not None and event.lifecycle is Lifecycle.NEW:
            box = np.asarray(event.box.as_list(), dtype=np.float32)
            part = snapshot_crop(frame.image, box, s.crop_margin)
            crop = encode_jpeg(part, s.max_width, s.jpeg_quality)
        return Rendered(full, crop)
