"""The ``objects`` analytic: YOLOX detections -> node labels -> filters -> tracks -> observations.

The factory (one per node) reads the model session from a swappable source once per frame, so
a model swap takes effect between two frames. Each camera gets its own tracker and confirmer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from node.analytics.base import AnalysisResult, Analytic, Observation
from node.analytics.registry import AnalyticBuilder, BuildContext
from node.detect.detections import Detections
from node.detect.labels import NODE_LABELS, meaning_of, suspect_for
from node.detect.yolox import DetectorSession, detect
from node.detect.zones import SpatialFilter
from node.frame import Frame
from node.track.bytetrack import ByteTracker, TrackerParams
from node.track.confirm import ConfirmParams, TrackConfirmer
from node.zones import ZoneEngine, ZoneFrame, ZoneLayout
from node.zones.observations import zone_event_types, zone_observations
from schemas.attributes import ObjectAttributes
from schemas.config import NodeConfig
from schemas.config.analytics import AnalyticConfig
from schemas.config.camera import CameraConfig
from schemas.config.gate import GateMode
from schemas.config.objects import ObjectsConfig

SessionSource = Callable[[], DetectorSession]


class ZoneCountSink(Protocol):
    """Where a camera's zone counts go (``node.zones.CounterStore``); called from the worker
    thread, so it must be thread-safe."""

    def record(self, camera: str, frame: ZoneFrame) -> bool: ...


def to_node_labels(dets: Detections, report: frozenset[str]) -> Detections:
    """Rename detector labels to node labels; drop those the node does not report."""
    mapped = [suspect_for(str(lbl)) for lbl in dets.labels]
    keep = np.asarray([m is not None and m.label in report for m in mapped], dtype=np.bool_)
    names = [m.label if m is not None else "" for m in mapped]
    kept = dets[keep]
    return Detections.from_arrays(
        kept.xyxy, kept.score, kept.class_id, [n for n, k in zip(names, keep, strict=True) if k]
    )


def tracker_params(cfg: ObjectsConfig) -> TrackerParams:
    t = cfg.tracker
    return TrackerParams(
        high_threshold=t.high_threshold,
        low_threshold=t.low_threshold,
        new_track_threshold=t.new_track_threshold,
        match_iou=t.match_iou,
        low_match_iou=t.low_match_iou,
        lost_after_s=t.lost_after_s,
    )


class ObjectsAnalytic:
    name = "objects"

    def __init__(
        self,
        config: ObjectsConfig,
        source: SessionSource,
        spatial: SpatialFilter | None = None,
        *,
        camera: str = "",
        zones: ZoneEngine | None = None,
        counts: ZoneCountSink | None = None,
    ) -> None:
        self._cfg = config
        self._source = source
        self._spatial = spatial or SpatialFilter()
        self._camera = camera
        self._zones = zones  # lines and zone rules of this camera, if it draws any
        self._counts = counts
        self._report = frozenset(config.labels)
        self._tracker = ByteTracker(tracker_params(config))
        self._confirm = TrackConfirmer(
            ConfirmParams(
                min_hits=config.min_hits,
                min_median_score=config.confidence,
                stationary_after_s=config.stationary_after_s,
            )
        )

    def analyze(self, frame: Frame) -> AnalysisResult:
        session = self._source()  # once per frame: a swap never lands mid-frame
        start = time.perf_counter()
        raw = detect(
            session,
            frame.image,
            score_threshold=self._cfg.tracker.low_threshold,
            iou_threshold=self._cfg.nms_iou,
        )
        inference_ms = (time.perf_counter() - start) * 1000.0
        dets = self._spatial.apply(to_node_labels(raw, self._report), (frame.height, frame.width))
        tracked = self._tracker.update(dets, frame.monotonic)
        zones = self._spatial.zone_names(tracked)
        observations = [
            self._observation(tracked, i, zones[i], frame.monotonic) for i in range(len(tracked))
        ]
        self._confirm.prune(frame.monotonic)
        zone_frame = None
        if self._zones is not None:
            confirmed = np.asarray([o.confirmed for o in observations], dtype=np.bool_)
            zone_frame = self._zones.update(tracked, confirmed, frame.monotonic)
            observations += zone_observations(zone_frame, frame)
            if self._counts is not None:
                self._counts.record(self._camera, zone_frame)
        shown = np.asarray(
            [tracked.score[i] >= self._cfg.threshold_for(str(tracked.labels[i]))
             for i in range(len(tracked))],
            dtype=np.bool_,
        )  # fmt: skip
        outputs: dict[str, Any] = {"model": session.manifest.label, **tracked[shown].to_json()}
        if zone_frame is not None:
            outputs["occupancy"] = zone_frame.occupancy
        return AnalysisResult(
            analytic=self.name,
            outputs=outputs,
            observations=observations,
            inference_ms=inference_ms,
        )

    def _observation(self, tracked: Detections, i: int, zones: list[str], t: float) -> Observation:
        assert tracked.tracker_id is not None  # the tracker always sets it
        tid = int(tracked.tracker_id[i])
        label = str(tracked.labels[i])
        box = tracked.xyxy[i]
        score = float(tracked.score[i])
        status = self._confirm.observe(tid, box, score, t, self._cfg.threshold_for(label))
        meaning = meaning_of(label)
        return Observation(
            key=str(tid),
            type=meaning.type,
            label=label,
            score=score,
            box=box.copy(),
            severity=meaning.severity,
            attributes=ObjectAttributes(
                track_id=tid,
                hits=status.hits,
                median_score=round(status.median_score, 4),
                age_s=round(status.age_s, 3),
                zones=zones,
                stationary=status.stationary,
            ),
            confirmed=status.confirmed,
            stationary=status.stationary,
        )

    def reset(self) -> None:
        self._tracker.reset()
        self._confirm.reset()
        if self._zones is not None:
            self._zones.reset()


class ObjectsFactory:
    name = "objects"
    gated = False

    def __init__(
        self,
        config: ObjectsConfig,
        source: SessionSource,
        cameras: list[CameraConfig] | None = None,
        counts: ZoneCountSink | None = None,
    ) -> None:
        unknown = sorted((set(config.labels) | set(config.label_thresholds)) - set(NODE_LABELS))
        if unknown:
            raise ValueError(f"objects: unknown labels {unknown}; known: {sorted(NODE_LABELS)}")
        for cam in cameras or []:
            _check_zone_labels(cam, set(config.labels))
        self.config: AnalyticConfig = config
        self._cfg = config
        self._source = source
        self._cameras = {c.name: c for c in cameras or []}
        self._counts = counts
        self.end_after_s = config.end_after_s
        self._label_override: str | None = None

    @property
    def model_label(self) -> str | None:
        """``name@version`` of the model serving now (follows swaps)."""
        return self._label_override or self._source().manifest.label

    @model_label.setter
    def model_label(self, value: str | None) -> None:
        self._label_override = value

    def create(self, camera: str) -> Analytic:
        cam = self._cameras.get(camera)
        spatial = SpatialFilter.from_camera(
            cam.masks if cam else [],
            cam.zones if cam else {},
            min_area=self._cfg.min_area,
            max_area=self._cfg.max_area,
            required_zones=self._cfg.zones,
        )
        layout = ZoneLayout.from_camera(cam) if cam is not None else ZoneLayout()
        zones = None
        if not layout.empty:
            lost_after_s = self._cfg.tracker.lost_after_s  # the tracker may re-find until then
            zones = ZoneEngine(layout, self._cfg.zone_logic, handover_after_s=lost_after_s)
        return ObjectsAnalytic(
            self._cfg, self._source, spatial, camera=camera, zones=zones, counts=self._counts
        )

    def close(self) -> None:
        return None


def _check_zone_labels(cam: CameraConfig, reported: set[str]) -> None:
    """Lines and rules may only name labels the analytic reports (a typo would never count)."""
    named = {lab for line in cam.lines for lab in line.labels}
    named |= {lab for rules in cam.zone_rules.values() for lab in rules.labels}
    unknown = sorted(named - reported)
    if unknown:
        raise ValueError(
            f"camera {cam.name!r}: lines/zone_rules name labels the objects analytic does not "
            f"report: {unknown}; add them to analytics.objects.labels (known: {sorted(reported)})"
        )


def _build(config: NodeConfig, ctx: BuildContext) -> ObjectsFactory:
    """Registry builder: the model comes from ``ctx.models.load(name)`` (a swappable handle)."""
    cfg = config.analytics.objects
    if ctx.models is None:
        raise RuntimeError("the objects analytic needs a model loader (BuildContext.models)")
    handle = ctx.models.load(cfg.model, analytic="objects")

    def source() -> DetectorSession:
        session: DetectorSession = handle.session
        return session

    counts = ctx.services.zone_counts if ctx.services is not None else None
    factory = ObjectsFactory(cfg, source, config.cameras, counts=counts)
    factory.gated = config.gate.mode == GateMode.FACE  # runs only while the gate is open
    return factory


def event_types(config: NodeConfig, running: Collection[str]) -> list[str]:
    """The event types of the reported labels (``object``, ``weapon``, ``drone``, ...), and
    those of the cameras' lines and zone rules (``line.crossed``, ``zone.loitering``, ...)."""
    types: list[str] = []
    for label in config.analytics.objects.labels:
        meaning = NODE_LABELS.get(label)  # an unknown label is the factory's error to report
        if meaning is not None and meaning.type not in types:
            types.append(meaning.type)
    return types + zone_event_types(config.cameras)


build = AnalyticBuilder(_build, event_types)


def snapshot_crop(
    image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32], margin: float
) -> npt.NDArray[np.uint8]:
    """The crop of ``box`` grown by ``margin`` of its size on each side, clipped to the image
    (for the event's crop snapshot, ``snapshot.crop_margin``). Never empty: at least 1x1."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    left = min(max(0, int(np.floor(x1 - mx))), w - 1)
    top = min(max(0, int(np.floor(y1 - my))), h - 1)
    right = max(min(w, int(np.ceil(x2 + mx))), left + 1)
    bottom = max(min(h, int(np.ceil(y2 + my))), top + 1)
    crop: npt.NDArray[np.uint8] = image[top:bottom, left:right].copy()
    return crop
