"""How the node reaches its MQTT broker."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from schemas.config.base import ConfigSection


class TLSConfig(ConfigSection):
    ca_certs: str | None = Field(default=None, description="CA bundle that signed the broker.")
    certfile: str | None = Field(default=None, description="Client certificate (mutual TLS).")
    keyfile: str | None = Field(default=None, description="Client private key (mutual TLS).")
    insecure: bool = Field(
        default=False, description="Skip hostname verification (testing only)."
    )


class MqttConfig(ConfigSection):
    host: str | None = Field(
        default=None,
        description="Broker host. Unset: start the embedded broker and connect to it.",
    )
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    username: str | None = Field(default=None, description="MQTT username.")
    password: SecretStr | None = Field(
        default=None, description="MQTT password; prefer env CITYWATCH__MQTT__PASSWORD."
    )
    client_id: str | None = Field(
        default=None, description="MQTT client id (default: citywatch-<node_id>)."
    )
    keepalive: int = Field(default=30, ge=5, le=3600, description="Keepalive in seconds.")
    qos: int = Field(default=1, ge=0, le=2, description="QoS of events (1 = at least once).")
    topic_prefix: str = Field(
        default="citywatch", pattern=r"^[a-zA-Z0-9_/-]+$", description="Root of the topic tree."
    )
    tls: TLSConfig | None = Field(default=None, description="Enable TLS with these settings.")
    reconnect_initial_s: float = Field(default=0.5, gt=0, description="First reconnect delay.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest reconnect delay.")
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        default="auto",
        description="MQTT version: `auto` tries v5 then 3.1.1 (the embedded broker: 3.1.1).",
    )
