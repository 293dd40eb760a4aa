"""JSON Schema export of every public contract (``citywatch schema``; checked in under json/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.commands import CommandEnvelope, Reply
from schemas.config import NodeConfig
from schemas.events import Event
from schemas.manifest import ModelManifest
from schemas.status import CameraStatus, NodeStats
from schemas.zones import ZoneCountsState

SCHEMA_DIR = Path(__file__).parent / "json"


def contracts() -> dict[str, type[BaseModel]]:
    return {
        "event": Event,
        "command": CommandEnvelope,
        "reply": Reply,
        "config": NodeConfig,
        "manifest": ModelManifest,
        "camera_status": CameraStatus,
        "stats": NodeStats,
        "zone_counts": ZoneCountsState,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema() for name, model in contracts().items()}
