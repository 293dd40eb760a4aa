"""The command channel ``<prefix>/<node_id>/cmd/<name>``."""

from __future__ import annotations

from pydantic import Field, SecretStr

from schemas.config.base import ConfigSection


class CommandsConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Subscribe to the command topics.")
    require_signature: bool = Field(
        default=False, description="Refuse commands without a valid HMAC-SHA256 signature."
    )
    secret: SecretStr | None = Field(
        default=None, description="HMAC key; prefer env CITYWATCH__COMMANDS__SECRET."
    )
    window_s: float = Field(
        default=30.0, gt=0, description="Accepted clock skew of signed timestamps."
    )
    max_payload_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Larger payloads are refused."
    )
