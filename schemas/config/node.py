"""The root of the node's YAML configuration."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from schemas.config.analytics import AnalyticsConfig
from schemas.config.base import ConfigSection
from schemas.config.broker import EmbeddedBrokerConfig
from schemas.config.camera import CameraConfig
from schemas.config.commands import CommandsConfig
from schemas.config.explain import ExplainConfig
from schemas.config.gate import GateConfig
from schemas.config.homeassistant import HomeAssistantConfig
from schemas.config.models import ModelsConfig
from schemas.config.mqtt import MqttConfig
from schemas.config.notifications import NotificationsConfig
from schemas.config.outbox import OutboxConfig
from schemas.events import NAME_PATTERN


class SnapshotConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Publish JPEG snapshots with events.")
    max_width: int = Field(default=640, gt=0, description="Downscale snapshots to this width.")
    jpeg_quality: int = Field(default=80, ge=10, le=100, description="JPEG quality.")
    crop: bool = Field(default=True, description="Also publish a crop of the event's box.")


def default_data_dir() -> str:
    """The XDG base-directory convention: ``$XDG_DATA_HOME/citywatch``, else
    ``~/.local/share/citywatch``. (The Jetson image sets ``/var/lib/citywatch``.)"""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "citywatch")


class NodeConfig(ConfigSection):
    node_id: str = Field(
        default="citywatch", pattern=NAME_PATTERN, description="Unique id of this node."
    )
    name: str | None = Field(default=None, description="Human-readable name (HA device name).")
    data_dir: str = Field(
        default_factory=default_data_dir,
        description="Outbox, galleries and state live here (env CITYWATCH__DATA_DIR).",
        json_schema_extra={"x-default": "$XDG_DATA_HOME/citywatch or ~/.local/share/citywatch"},
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    broker: EmbeddedBrokerConfig = Field(default_factory=EmbeddedBrokerConfig)
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras to read.")
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    commands: CommandsConfig = Field(default_factory=CommandsConfig)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig,
        description="E-mail, SMS, push and webhook notifications (docs/notifications.md).",
    )
    stats_interval_s: float = Field(default=10.0, gt=0, description="Period of `stats`.")
    log_level: str = Field(default="INFO", description="Python logging level.")

    @model_validator(mode="after")
    def _unique_cameras(self) -> NodeConfig:
        names = [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique, repeated: {dupes}")
        return self
