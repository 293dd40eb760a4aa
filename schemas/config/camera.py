"""Cameras: where frames come from and how they are read."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.config.base import ConfigSection
from schemas.config.zones import LineConfig, ZoneRulesConfig
from schemas.events import NAME_PATTERN


class MotionConfig(ConfigSection):
    enabled: bool = Field(
        default=True, description="Skip inference while the scene is static."
    )
    threshold: float = Field(
        default=0.002,
        ge=0.0,
        le=1.0,
        description="Fraction of changed pixels (downscaled grey) that counts as motion.",
    )
    pixel_delta: int = Field(
        default=25, ge=1, le=255, description="Grey-level change that marks a pixel as changed."
    )
    keepalive_s: float = Field(
        default=5.0,
        ge=0.0,
        description="Run models at least this often even on a static scene (0 = never).",
    )


class ReconnectConfig(ConfigSection):
    initial_s: float = Field(default=1.0, gt=0, description="First retry delay.")
    max_s: float = Field(default=30.0, gt=0, description="Longest retry delay.")
    jitter: float = Field(default=0.2, ge=0, le=1, description="Relative random jitter.")


class CameraConfig(ConfigSection):
    name: str = Field(pattern=NAME_PATTERN, description="Camera name, used in topics.")
    source: str = Field(
        description=(
            "Video file, rtsp:// or http(s):// URL, V4L2 index (e.g. `0` or `/dev/video0`), "
            "or a folder of images."
        )
    )
    enabled: bool = Field(default=True, description="Start analysing at boot.")
    loop: bool = Field(default=False, description="Restart a file source at its end.")
    realtime: bool = Field(
        default=True,
        description="Pace file sources at their native fps (false: as fast as decoding goes).",
    )
    read_fps: float | None = Field(
        default=None, gt=0, description="Folder sources: images per second (default 1)."
    )
    max_width: int | None = Field(
        default=None, gt=0, description="Downscale wider frames before analysis."
    )
    motion: MotionConfig = Field(default_factory=MotionConfig)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    zones: dict[str, list[tuple[float, float]]] = Field(
        default_factory=dict,
        description="Named polygons in frame pixels; analytics may restrict to them.",
    )
    masks: list[list[tuple[float, float]]] = Field(
        default_factory=list, description="Polygons in frame pixels whose detections are ignored."
    )
    lines: list[LineConfig] = Field(
        default_factory=list,
        description="Counting lines: objects crossing them raise `line.crossed` and are counted.",
    )
    zone_rules: dict[str, ZoneRulesConfig] = Field(
        default_factory=dict,
        description="Per zone name: loitering, occupancy and direction rules.",
    )

    @model_validator(mode="after")
    def _zone_refs(self) -> CameraConfig:
        unknown = sorted(set(self.zone_rules) - set(self.zones))
        if unknown:
            raise ValueError(
                f"zone_rules for undefined zones {unknown}; zones: {sorted(self.zones)}"
            )
        bad = sorted(name for name, pts in self.zones.items() if len(pts) < 3)
        if bad:
            raise ValueError(f"zones need at least 3 points: {bad}")
        names = [line.name for line in self.lines]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"line names must be unique, repeated: {dupes}")
        return self
