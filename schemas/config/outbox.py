"""The durable on-disk outbox between event creation and the broker."""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from schemas.config.base import ConfigSection


class OverflowPolicy(str, Enum):
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class OutboxConfig(ConfigSection):
    path: str | None = Field(
        default=None, description="SQLite file (default: <data_dir>/outbox.sqlite)."
    )
    max_messages: int = Field(default=100_000, ge=1, description="Bound on queued messages.")
    max_age_s: float = Field(
        default=7 * 24 * 3600, gt=0, description="Messages older than this are expired."
    )
    overflow: OverflowPolicy = Field(
        default=OverflowPolicy.DROP_OLDEST,
        description="What to drop when full; counted in stats either way.",
    )
    inflight: int = Field(
        default=32, ge=1, le=1000, description="Unacknowledged publishes at once."
    )
