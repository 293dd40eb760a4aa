"""A rule's title and body, rendered from the event's fields (``str.format`` syntax).

The fields are those of ``TEMPLATE_FIELDS`` (checked when the config loads). Attribute access
(``{camera.__class__}``) is refused so a template can only read values, and a template that still
fails at render time (``{score:d}``, a missing ``{attributes[k]}``) falls back to the default text
instead of losing the notification.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from node.notify.rules import event_identities, event_zones
from schemas.config.notifications import DEFAULT_BODY, DEFAULT_TITLE
from schemas.events import Event

log = logging.getLogger(__name__)


class _ReadOnlyFormatter(string.Formatter):
    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if "." in field_name.split("[", 1)[0]:
            raise ValueError(f"attribute access is not allowed: {{{field_name}}}")
        return super().get_field(field_name, args, kwargs)


_FORMATTER = _ReadOnlyFormatter()


class _Fields(dict[str, Any]):
    """Template values; ``event_json`` is made only for a template that asks for it."""

    def __init__(self, event: Event, values: dict[str, Any]) -> None:
        super().__init__(values)
        self._event = event

    def __missing__(self, key: str) -> Any:
        if key != "event_json":
            raise KeyError(key)
        value = self["event_json"] = self._event.model_dump_json()
        return value


def template_fields(event: Event, rule: str, node_name: str, zone: tzinfo) -> dict[str, Any]:
    """The values a template can use (``TEMPLATE_FIELDS``), for ``event`` matched by ``rule``."""
    when = datetime.fromtimestamp(event.created_at.timestamp(), zone)
    return _Fields(event, {
        "event_id": event.event_id,
        "node_id": event.node_id,
        "node": node_name,
        "camera": event.camera,
        "type": event.type,
        "label": event.label,
        "labels": ", ".join(event.labels or [event.label]),
        "severity": event.severity.value,
        "score": event.score,
        "score_pct": round(event.score * 100),
        "lifecycle": event.lifecycle.value,
        "track_id": event.track_id,
        "time": when.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "zones": ", ".join(event_zones(event)) or "-",
        "identity": ", ".join(sorted(event_identities(event))) or "-",
        "rule": rule,
        "attributes": event.attributes.model_dump(mode="json"),  # as the event's JSON has them
    })


def template_error(template: str, fields: Mapping[str, Any]) -> str | None:
    """Why ``template`` fails on ``fields`` (a format spec that does not fit its value). A
    missing ``{attributes[key]}`` is not an error here: attributes differ between events."""
    try:
        _FORMATTER.vformat(template, (), fields)
    except (KeyError, IndexError):
        return None
    except (ValueError, TypeError) as err:
        return str(err)
    return None


def render(template: str, fields: Mapping[str, Any], fallback: str) -> str:
    try:
        return _FORMATTER.vformat(template, (), fields)
    except (KeyError, IndexError, ValueError, TypeError) as err:
        log.warning("notification template %r failed (%s): default text used", template, err)
        return _FORMATTER.vformat(fallback, (), fields)


def render_message(title: str, body: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    return render(title, fields, DEFAULT_TITLE), render(body, fields, DEFAULT_BODY)
