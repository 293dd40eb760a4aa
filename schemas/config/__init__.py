"""Node configuration: one YAML file, validated by these models (``extra="forbid"``)."""

from schemas.config.node import NodeConfig

__all__ = ["NodeConfig"]
