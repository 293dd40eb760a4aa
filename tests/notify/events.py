"""Event and config builders for the notification tests."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from schemas.config.notifications import NotificationsConfig
from schemas.events import Event, Lifecycle, Severity
from tests.contract.recorded import recorded_attributes

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)  # a Monday


def event(**kw: Any) -> Event:
    """A knife in zone `door`; ``attributes`` (a mapping) changes the recorded attributes of the
    event's type (``tests/fixtures/events``)."""
    base: dict[str, Any] = {
        "node_id": "n1",
        "camera": "cam1",
        "type": "weapon",
        "track_id": "t1",
        "lifecycle": Lifecycle.NEW,
        "started_at": T0,
        "score": 0.9,
        "label": "knife",
        "severity": Severity.HIGH,
    }
    changes = kw.pop("attributes", {"zones": ["door"]})
    base.update(kw)
    base["attributes"] = recorded_attributes(base["type"], **changes)
    if base["lifecycle"] is Lifecycle.END:
        base.setdefault("ended_at", T0)
    return Event(**base)


def notifications(rules: dict[str, Any], **kw: Any) -> NotificationsConfig:
    """A config whose targets are webhooks on a closed port (the tests that send replace them)."""
    targets = kw.pop("targets", {"hook": {"url": "json://127.0.0.1:9/hook"}})
    return NotificationsConfig.model_validate(
        {"targets": targets, "rules": rules, "timezone": "UTC", **kw}
    )
