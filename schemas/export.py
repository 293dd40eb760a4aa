"""JSON Schema export of every public contract (``citywatch schema``; checked in under json/, and
retained on ``<base>/schema``). Events are a union with one branch per event type
(``schemas.events.event_json_schema``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.commands import CommandEnvelope, Reply
from schemas.config import NodeConfig
from schemas.events import event_json_schema
from schemas.explain import ExplainReport
from schemas.manifest import ModelManifest
from schemas.status import CameraStatus, NodeStats
from schemas.zones import ZoneCountsState

SCHEMA_DIR = Path(__file__).parent / "json"


def contracts() -> dict[str, type[BaseModel]]:
    """The contracts whose schema is their model's own (events: ``event_json_schema``)."""
    return {
        "command": CommandEnvelope,
        "reply": Reply,
        "config": NodeConfig,
        "manifest": ModelManifest,
        "camera_status": CameraStatus,
        "stats": NodeStats,
        "explanation": ExplainReport,
        "zone_counts": ZoneCountsState,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    schemas = {"event": event_json_schema()}
    schemas.update({name: model.model_json_schema() for name, model in contracts().items()})
    return schemas
