"""The `objects` analytic: YOLOX detector, label mapping, tracker, confirmation, snapshots."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.config.analytic import AnalyticConfig
from schemas.config.base import ConfigSection
from schemas.config.zones import ZoneLogicConfig

DEFAULT_LABELS = [
    "person", "backpack", "bag", "suitcase", "phone", "knife", "scissors", "stick", "gun",
    "pistol", "long_gun", "grenade", "drone", "camera", "yellow_vest",
]  # fmt: skip


class ObjectTrackerConfig(ConfigSection):
    high_threshold: float = Field(
        default=0.5, gt=0, le=1, description="Detections at or over this score match first."
    )
    low_threshold: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Detections between this and high_threshold only extend existing tracks.",
    )
    new_track_threshold: float = Field(
        default=0.5, gt=0, le=1, description="Least score of a detection that starts a track."
    )
    match_iou: float = Field(
        default=0.2, ge=0, le=1, description="Least IoU between predicted and detected box."
    )
    low_match_iou: float = Field(
        default=0.5, ge=0, le=1, description="Least IoU for a low-score detection to match."
    )
    lost_after_s: float = Field(
        default=1.0, ge=0, description="A track unmatched for this long is dropped."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ObjectTrackerConfig:
        if self.low_threshold > self.high_threshold:
            raise ValueError("tracker.low_threshold must be <= tracker.high_threshold")
        return self


class ObjectSnapshotConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Attach the best frame to new/end events.")
    crop: bool = Field(default=True, description="Also publish a crop of the object's box.")
    crop_margin: float = Field(
        default=0.15, ge=0, le=1, description="Crop margin around the box, fraction of its size."
    )
    max_width: int | None = Field(
        default=None, gt=0, description="Override `snapshots.max_width` for this analytic."
    )
    jpeg_quality: int | None = Field(
        default=None, ge=10, le=100, description="Override `snapshots.jpeg_quality`."
    )


class ObjectsConfig(AnalyticConfig):
    model: str = Field(
        default="yolox_nano", description="Registry name of the detector (family `yolox`)."
    )
    confidence: float = Field(
        default=0.4,
        gt=0,
        le=1,
        description="Least median score of a track to become an event, and of a printed box.",
    )
    label_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Per node label (e.g. `knife: 0.3`) override of `confidence`.",
    )
    labels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LABELS),
        description="Node labels reported (see docs/objects.md for the COCO mapping).",
    )
    nms_iou: float = Field(
        default=0.45, gt=0, le=1, description="IoU over which same-class boxes are duplicates."
    )
    min_area: float = Field(
        default=0.0, ge=0, le=1, description="Least box area, as a fraction of the frame."
    )
    max_area: float = Field(
        default=1.0, ge=0, le=1, description="Largest box area, as a fraction of the frame."
    )
    zones: list[str] = Field(
        default_factory=list,
        description="Only report objects standing in one of these camera zones (default: all).",
    )
    tracker: ObjectTrackerConfig = Field(default_factory=ObjectTrackerConfig)
    min_hits: int = Field(
        default=3, ge=1, description="Analysed frames an object must be seen in before its event."
    )
    end_after_s: float = Field(
        default=3.0, gt=0, description="An object unseen for this long ends its event."
    )
    stationary_after_s: float = Field(
        default=30.0,
        ge=0,
        description="An object that has not moved for this long stops updating (0: never).",
    )
    snapshot: ObjectSnapshotConfig = Field(default_factory=ObjectSnapshotConfig)
    zone_logic: ZoneLogicConfig = Field(
        default_factory=ZoneLogicConfig,
        description="Line crossing and zone rules of the cameras' `lines` and `zone_rules`.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ObjectsConfig:
        if self.min_area > self.max_area:
            raise ValueError("min_area must be <= max_area")
        bad = {k: v for k, v in self.label_thresholds.items() if not 0 < v <= 1}
        if bad:
            raise ValueError(f"label_thresholds must be in (0, 1]: {bad}")
        if self.zone_logic.lost_grace_s <= self.tracker.lost_after_s:
            raise ValueError(
                "zone_logic.lost_grace_s must exceed tracker.lost_after_s: a re-found object "
                "can take its zones and line sides over only once the tracker gave it up"
            )
        return self

    def threshold_for(self, label: str) -> float:
        return self.label_thresholds.get(label, self.confidence)
