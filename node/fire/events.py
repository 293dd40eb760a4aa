"""The event types the fire analytic publishes: one per class of its model (``events/fire``,
``events/smoke``). A light module: Home Assistant's presence reads it without the model code."""

from __future__ import annotations

from schemas.events import Severity

FIRE = "fire"
SMOKE = "smoke"
EVENT_TYPES = (FIRE, SMOKE)
SEVERITY = {FIRE: Severity.CRITICAL, SMOKE: Severity.HIGH}
