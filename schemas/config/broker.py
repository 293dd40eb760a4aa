"""The embedded broker (amqtt) used when ``mqtt.host`` is unset."""

from __future__ import annotations

from pydantic import Field

from schemas.config.base import ConfigSection


class EmbeddedBrokerConfig(ConfigSection):
    bind: str = Field(
        default="127.0.0.1",
        description="Address to listen on. Loopback unless you mean to expose it.",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="TCP port to listen on. Unset: 1883, or a free port when 1883 is taken "
        "(another broker already runs there; `citywatch run` prints which). Set: that port, "
        "and a taken one is an error.",
    )
