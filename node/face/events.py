"""The event types the face package publishes. A light module: Home Assistant's presence and
discovery read it without loading the face models' code.

``face.recognized`` / ``face.unknown`` come from the faces analytic; ``gate.opened`` /
``gate.closed`` from the authorisation gate, which recognition drives.
"""

from __future__ import annotations

FACE_RECOGNIZED = "face.recognized"
FACE_UNKNOWN = "face.unknown"
GATE_OPENED = "gate.opened"
GATE_CLOSED = "gate.closed"
EVENT_TYPES = (FACE_RECOGNIZED, FACE_UNKNOWN, GATE_OPENED, GATE_CLOSED)
