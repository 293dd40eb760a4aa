"""What the movement package publishes. A light module: Home Assistant's discovery and counters
read it without loading the models' code.

``movement``: one event per (person, action) while the action holds, ``label`` the action.
``movement.identified``: after a fall or a fight, the people involved identified by their faces
(``node/movement/escalation.py``), published only where the faces analytic runs too.
"""

from __future__ import annotations

from schemas.events import Severity

EVENT_TYPE = "movement"
IDENTIFIED_EVENT_TYPE = "movement.identified"
SEVERITY = {"fall": Severity.CRITICAL, "fight": Severity.HIGH, "run": Severity.LOW,
            "walk": Severity.INFO}
# Actions after which the analytic asks who was involved (face escalation).
ESCALATING_ACTIONS = ("fall", "fight")
