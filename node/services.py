"""The node's shared services, built once per node, in this order, before its analytics:

1. ``clock``: the node's (tests inject a manual one).
2. ``gate``: the authorisation gate. The faces analytic reports to it, the pipelines ask it
   before running gated analytics, the face commands revoke its sessions.
3. ``faces``: the face engine and gallery, when the faces analytic is enabled; the faces
   analytic, the face commands and the escalation share them. Loading them may pull models (a
   first start), so it runs in the executor; if they cannot be had, the faces analytic is
   reported as not started and the node runs without it.
4. ``escalation``: the movement analytic's fall/fight hook to face identification, when movement
   and faces are both enabled and ``analytics.movement.escalate_faces`` is on.
5. ``zone_counts``: the line and zone counters, when the objects analytic runs and a camera
   draws lines or zones; the objects analytic counts into it, ``node.zone_state`` publishes,
   persists and resets it.

Builders get them through ``BuildContext.services``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.analytics.registry import enabled_names, failure_reason
from node.clock import Clock
from node.face.analytic import FaceServices
from node.face.gate import AuthorisationGate
from node.movement.escalation import EscalationWorker, escalates_to_faces
from node.movement.face_escalation import EmitWithFrame, face_escalation
from node.zone_state import counter_store
from node.zones import CounterStore
from schemas.config import NodeConfig


@dataclass(frozen=True)
class NodeServices:
    clock: Clock
    gate: AuthorisationGate
    faces: FaceServices | None = None
    escalation: EscalationWorker | None = None
    zone_counts: CounterStore | None = None


async def build_services(
    config: NodeConfig,
    data_dir: Path,
    models: Any,
    clock: Clock,
    executor: Executor,
    *,
    emit: EmitWithFrame,
    faces_on: Callable[[str], bool],
) -> tuple[NodeServices, dict[str, str]]:
    """Build the services in order (see the module docstring), and say which analytics cannot
    start because a service they need failed (name -> why, reported like a failed build).
    ``emit`` takes the escalation's events (the node's sink); ``faces_on(camera)`` says whether
    faces run on a camera now (``set`` command)."""
    gate = AuthorisationGate(config.gate, clock)
    names = enabled_names(config)
    faces: FaceServices | None = None
    failed: dict[str, str] = {}
    if "faces" in names:
        loop = asyncio.get_running_loop()
        try:
            faces = await loop.run_in_executor(
                executor, FaceServices.from_config, config.analytics.faces, data_dir, models
            )
        except Exception as err:  # the node runs without faces, like any failed analytic
            failed["faces"] = failure_reason(err)
    escalation: EscalationWorker | None = None
    if escalates_to_faces(config, names):
        escalation = face_escalation(config, faces, emit, faces_on)
    zone_counts = counter_store(config, clock)
    return NodeServices(clock, gate, faces, escalation, zone_counts), failed
