"""The command channel ``<prefix>/<node_id>/cmd/<name>``."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

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

    @model_validator(mode="after")
    def _signature_needs_a_secret(self) -> CommandsConfig:
        # caught at `config check`, not as a traceback when `run` builds the dispatcher
        secret = self.secret.get_secret_value() if self.secret else ""
        if self.enabled and self.require_signature and not secret:
            raise ValueError(
                "require_signature is true but there is no secret: set the environment variable "
                "CITYWATCH__COMMANDS__SECRET (or commands.secret)"
            )
        return self
