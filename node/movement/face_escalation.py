"""The node's face escalation: a fall or a fight -> the faces analytic's engine and gallery ->
one ``movement.identified`` event (``escalation.py`` has the worker and the pure parts).

Built by ``node.services`` when the movement and faces analytics both run and
``analytics.movement.escalate_faces`` is on; the movement analytic gets it as its escalation hook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from node.movement.escalation import (
    EscalationRequest,
    EscalationWorker,
    PersonCrop,
    identified_event,
    identify_people,
)
from schemas.config import NodeConfig
from schemas.events import Event

if TYPE_CHECKING:
    from node.face.analytic import FaceServices

EmitWithFrame = Callable[[Event, Any], Awaitable[None]]


def face_escalation(
    config: NodeConfig,
    faces: FaceServices | None,
    emit: EmitWithFrame,
    faces_on: Callable[[str], bool],
) -> EscalationWorker:
    """The escalation worker (call on the event loop). ``faces`` None: the face analytic did not
    start, and every request is skipped; ``faces_on(camera)`` False: faces are switched off on
    that camera (``set`` command), and its requests are skipped too."""
    fc = config.analytics.faces
    model = f"{fc.detector}+{fc.embedder}"

    def identify(request: EscalationRequest, crops: list[PersonCrop]) -> Event | None:
        """Blocking (the worker's pool): faces in the crops, matched against the gallery."""
        if faces is None or not faces_on(request.camera):
            return None
        matcher = faces.gallery.matcher(fc.match_threshold, fc.match_margin)
        people = identify_people(crops, faces.engine, matcher, faces.gallery.is_authorised)
        return identified_event(config.node_id, request, people, model=model)

    # its own single-worker pool: identifications never queue ahead of camera analysis
    return EscalationWorker(asyncio.get_running_loop(), None, identify, emit)
