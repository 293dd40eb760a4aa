"""Home Assistant MQTT discovery."""

from __future__ import annotations

from pydantic import Field

from schemas.config.base import ConfigSection


class HomeAssistantConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Publish device-based discovery.")
    discovery_prefix: str = Field(default="homeassistant", description="HA discovery prefix.")
    announce_delay_max_s: float = Field(
        default=3.0,
        ge=0,
        description="Random delay before re-announcing after HA's birth message.",
    )
