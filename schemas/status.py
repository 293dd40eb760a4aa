"""Status payloads the node publishes: ``<camera>/status`` (retained) and ``stats`` (periodic).

``CameraStatus`` mirrors the capture thread's state changes (``node.sources.capture``);
``NodeStats`` is what Home Assistant's diagnostic sensors read (``cameras.<cam>.fps`` and
``cameras.<cam>.inference_ms.<analytic>``, see ``node/homeassistant.py``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import NAME_PATTERN

CameraState = Literal["starting", "online", "offline", "error", "ended", "stopped"]


class CameraStatus(BaseModel):
    """Retained payload of ``<prefix>/<node>/<camera>/status``, published on every change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: str = Field(pattern=NAME_PATTERN, description="Camera name from the node config.")
    state: CameraState = Field(
        description="`online` (frames arrive), `offline` (source lost, retrying), `error` "
        "(source does not decode), `ended` (file without loop), `stopped` (node or command)."
    )
    reason: str | None = Field(default=None, description="Why, for offline/error/stopped.")
    source: str = Field(description="The source, with credentials replaced by `***`.")
    at: float = Field(description="When the state changed (epoch seconds).")
    reconnects: int = Field(ge=0, description="Reconnects of the source so far.")


class InferenceStats(BaseModel):
    """Time of one analytic's ``analyze`` in the worker thread (last 256 runs)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0)
    ema_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None


class AnalyticRunStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: int = Field(ge=0)
    errors: int = Field(ge=0)
    inference: InferenceStats


class CameraStats(BaseModel):
    """One camera in ``stats``. The pipeline may add counters (extra keys are kept)."""

    model_config = ConfigDict(extra="allow")

    camera: str
    state: str = Field(description="Latest source state (see `CameraStatus.state`).")
    enabled: bool = Field(description="Run-time switch of the camera (the `set` command).")
    fps: float = Field(ge=0, description="Frames decoded per second (5 s window).")
    analysed_fps: float = Field(ge=0, description="Frames given to analytics per second.")
    frames_read: int = Field(ge=0)
    frames_taken: int = Field(ge=0)
    frames_analysed: int = Field(ge=0)
    frames_dropped: int = Field(ge=0, description="Overwritten before the pipeline took them.")
    skipped_motion: int = Field(ge=0)
    skipped_busy: int = Field(ge=0)
    reconnects: int = Field(ge=0)
    events: int = Field(ge=0, description="Events handed to the outbox.")
    inference_ms: dict[str, float | None] = Field(
        default_factory=dict, description="Analytic -> EMA of its inference time (HA sensors)."
    )
    analytics_enabled: dict[str, bool] = Field(
        default_factory=dict, description="Analytic -> run-time switch on this camera."
    )
    analytics: dict[str, AnalyticRunStats] = Field(default_factory=dict)


class OutboxStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    depth: int = Field(ge=0, description="Events stored, not yet acknowledged by the broker.")
    enqueued: int = Field(ge=0)
    delivered: int = Field(ge=0)
    dropped: int = Field(ge=0, description="Dropped by `outbox.max_messages` overflow.")
    expired: int = Field(ge=0, description="Dropped by `outbox.max_age_s`.")


class LinkStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connected: bool
    protocol: Literal["auto", "5", "3.1.1"]
    connects: int = Field(ge=0)
    reconnects: int = Field(ge=0)
    connect_failures: int = Field(ge=0)
    publish_failures: int = Field(ge=0)
    handler_errors: int = Field(ge=0)


class EscalationStats(BaseModel):
    """Face escalations of the movement analytic (``node/movement/escalation.py``)."""

    model_config = ConfigDict(extra="forbid")

    requested: int = Field(ge=0, description="Fall/fight identifications asked for.")
    identified: int = Field(ge=0, description="`movement.identified` events emitted.")
    skipped: int = Field(ge=0, description="No face analytic running on that camera.")
    dropped: int = Field(ge=0, description="Too many identifications waiting at once.")
    failed: int = Field(ge=0, description="Identification or emit raised.")
    cancelled: int = Field(default=0, ge=0, description="Still under way at shutdown.")


class NotificationRuleStats(BaseModel):
    """One notification rule (``node/notify``); `sent`, `failed`, `retried` count since start."""

    model_config = ConfigDict(extra="forbid")

    queued: int = Field(ge=0, description="Notifications stored and not yet delivered.")
    sent: int = Field(ge=0, description="Accepted by the service.")
    failed: int = Field(ge=0, description="Given up after the retry limit.")
    retried: int = Field(ge=0, description="Failed attempts that were retried.")
    suppressed: int = Field(ge=0, description="Matches dropped by a cooldown.")


class NotificationStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queued: int = Field(ge=0, description="All rules: waiting now.")
    sent: int = Field(ge=0, description="All rules: delivered since start.")
    failed: int = Field(ge=0, description="All rules: given up since start (HA sensor).")
    in_flight: int = Field(ge=0, description="Sends running now.")
    rules: dict[str, NotificationRuleStats] = Field(default_factory=dict)


class NodeStats(BaseModel):
    """Payload of ``<prefix>/<node>/stats`` (QoS 0, every ``stats_interval_s``)."""

    model_config = ConfigDict(extra="forbid")

    node_id: str
    ts: float = Field(description="Wall time of the message (epoch seconds).")
    uptime_s: float = Field(ge=0)
    cameras: dict[str, CameraStats] = Field(default_factory=dict)
    inference_ms: dict[str, float] = Field(
        default_factory=dict, description="Analytic -> mean over cameras of its EMA inference."
    )
    outbox: OutboxStats | None = None
    mqtt: LinkStats | None = None
    commands: dict[str, int] = Field(
        default_factory=dict, description="Replies sent per outcome: `ok` or an error code."
    )
    analytics_failed: dict[str, str] = Field(
        default_factory=dict,
        description="Enabled analytics that could not start (e.g. model missing) -> why.",
    )
    escalation: EscalationStats | None = Field(
        default=None,
        description="Face escalation counters; absent unless movement escalates to faces.",
    )
    notifications: NotificationStats | None = Field(
        default=None, description="Notification counters; absent without rules."
    )
