"""Title and body templates over the event's fields."""

from __future__ import annotations

import json
from datetime import timezone
from zoneinfo import ZoneInfo

from node.notify.templates import render, render_message, template_fields
from schemas.attributes import FaceRecognizedAttributes
from schemas.config.notifications import DEFAULT_BODY, DEFAULT_TITLE, TEMPLATE_FIELDS
from schemas.events import Severity
from tests.notify.events import event


def test_every_documented_field_renders() -> None:
    ev = event(attributes={"zones": ["door", "road"]})
    fields = template_fields(ev, "weapon_sms", "Gate node", timezone.utc)
    assert {*fields, "event_json"} == set(TEMPLATE_FIELDS)  # event_json: made when asked
    text = " ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS if name != "attributes")
    out = render(text, fields, DEFAULT_BODY)
    assert "weapon_sms" in out and "Gate node" in out and "door, road" in out
    assert json.loads(fields["event_json"])["event_id"] == ev.event_id


def test_rule_template() -> None:
    ev = event(severity=Severity.CRITICAL, score=0.876, camera="gate")
    title, body = render_message(
        "{severity}: {label} at {camera}", "{score:.2f} {score_pct}% {attributes[zones]} {time}",
        template_fields(ev, "r", "node", ZoneInfo("Europe/Rome")),
    )
    assert title == "critical: knife at gate"
    assert body.startswith("0.88 88% ['door'] ")
    # created_at is now; the zone name ends the time (CET or CEST).
    assert body.endswith(("CET", "CEST"))


def test_identity_and_attributes_of_a_face() -> None:
    ev = event(type="face.recognized", label="face", attributes={"identity": "alice"})
    fields = template_fields(ev, "door", "n", timezone.utc)
    out = render("{identity} {attributes[identity]} {attributes[similarity]:.2f}", fields, "")
    assert isinstance(ev.attributes, FaceRecognizedAttributes)
    assert out == f"alice alice {ev.attributes.similarity:.2f}"
    assert fields["zones"] == "-"  # zones are the objects analytic's


def test_missing_attribute_falls_back_to_default_text() -> None:
    ev = event(attributes={})
    fields = template_fields(ev, "r", "n", timezone.utc)
    title, _ = render_message("{attributes[identity]}", DEFAULT_BODY, fields)
    assert title == render(DEFAULT_TITLE, fields, "")


def test_unknown_field_is_a_key_error_not_event_json() -> None:
    fields = template_fields(event(), "r", "n", timezone.utc)
    assert render("{nope}", fields, "fallback {camera}") == "fallback cam1"
