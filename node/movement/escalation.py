"""Face escalation after a fall or a fight: who are the people involved?

The movement analytic calls its escalation hook (``EscalationRequest``: camera, action, track ids,
boxes, frame) from its worker thread. ``EscalationWorker`` is that hook in the node: it copies the
crops of the involved boxes at once (cheap), hands them to the event loop, and the loop runs the
face detection + matching in its own single-worker thread pool (never on the loop, never queued
ahead of the cameras' analysis in the node's pool), then emits one
``movement.identified`` event through the durable outbox:

* ``label``: the action (``fall``/``fight``), ``severity`` the action's, ``box`` around the
  people involved, ``score`` the best similarity of an identified person (0 when none);
* ``attributes.track_ids``: the movement analytic's track ids (``attributes.track_id`` of the
  ``movement`` events), ``identities``: the known people found (sorted), ``unknown_faces``: how
  many faces matched nobody, ``people``: one entry per track: ``status`` ``identified`` /
  ``unknown`` / ``no_face`` / ``low_quality`` (a face too small, blurred or turned to embed),
  ``identity``, ``similarity``, ``authorised``, ``face_box`` (frame pixels).

``identify_people`` is pure (engine and matcher injected), so it is tested with the real face
models on real photos.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from node.frame import Frame
from node.movement.events import IDENTIFIED_EVENT_TYPE, SEVERITY
from schemas.attributes import IdentifiedPerson, MovementIdentifiedAttributes
from schemas.config import NodeConfig
from schemas.events import Box, Event, Lifecycle, Severity, ensure_writable

log = logging.getLogger(__name__)

# The person box grown by this fraction of its size on each side: a falling person's head may
# stick out of a box that lags one frame behind.
CROP_MARGIN = 0.15

Status = Literal["identified", "unknown", "no_face", "low_quality"]


@dataclass(frozen=True)
class EscalationRequest:
    """Asks the face analytic to identify the people of a fall or fight (when faces show)."""

    camera: str
    action: str
    track_ids: tuple[int, ...]
    boxes: tuple[tuple[float, float, float, float], ...]
    frame: Frame


Escalation = Callable[[EscalationRequest], None]


def escalates_to_faces(config: NodeConfig, analytics: Collection[str]) -> bool:
    """Whether falls and fights are escalated to face identification: the movement and faces
    analytics both among ``analytics``, and ``analytics.movement.escalate_faces``."""
    return {"movement", "faces"} <= set(analytics) and config.analytics.movement.escalate_faces


class FaceSampleLike(Protocol):
    box: npt.NDArray[np.float32]
    score: float
    embedding: npt.NDArray[np.float32] | None


class FaceEngineLike(Protocol):
    def analyse(self, image: npt.NDArray[np.uint8], embed_all: bool = False) -> Sequence[Any]: ...


class MatchLike(Protocol):
    identity: str
    similarity: float


class MatcherLike(Protocol):
    def match(self, probes: npt.NDArray[np.float32]) -> Sequence[Any]: ...


@dataclass(frozen=True)
class PersonCrop:
    track_id: int
    box: tuple[float, float, float, float]  # the person, frame pixels
    origin: tuple[int, int]  # (x, y) of the crop in the frame
    image: npt.NDArray[np.uint8]


@dataclass(frozen=True)
class PersonIdentity:
    track_id: int
    status: Status
    identity: str | None = None
    similarity: float | None = None
    authorised: bool | None = None
    face_box: list[float] | None = None


def person_crops(request: EscalationRequest, margin: float = CROP_MARGIN) -> list[PersonCrop]:
    """Copies of the involved people's boxes (grown by ``margin``), clipped to the frame."""
    img = request.frame.image
    h, w = img.shape[:2]
    out: list[PersonCrop] = []
    for tid, box in zip(request.track_ids, request.boxes, strict=True):
        x1, y1, x2, y2 = box
        mx, my = (x2 - x1) * margin, (y2 - y1) * margin
        cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        cx2, cy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if cx2 - cx1 < 2 or cy2 - cy1 < 2:
            crop = np.zeros((0, 0, 3), np.uint8)
        else:
            crop = np.ascontiguousarray(img[cy1:cy2, cx1:cx2])
        out.append(PersonCrop(tid, box, (cx1, cy1), crop))
    return out


def identify_people(
    crops: Sequence[PersonCrop],
    engine: FaceEngineLike,
    matcher: MatcherLike,
    is_authorised: Callable[[str], bool],
) -> list[PersonIdentity]:
    """Per person: the best face in its crop (embedded ones first, then by detector score),
    matched open-set against the gallery."""
    out: list[PersonIdentity] = []
    for c in crops:
        samples = list(engine.analyse(c.image)) if c.image.size else []
        if not samples:
            out.append(PersonIdentity(c.track_id, "no_face"))
            continue
        best = max(samples, key=lambda s: (s.embedding is not None, float(s.score)))
        ox, oy = c.origin
        face_box = [round(float(v) + (ox if i % 2 == 0 else oy), 1) for i, v in enumerate(best.box)]
        if best.embedding is None:
            out.append(PersonIdentity(c.track_id, "low_quality", face_box=face_box))
            continue
        match = matcher.match(np.asarray(best.embedding, np.float32)[None])[0]
        sim = round(float(match.similarity), 4)
        if match.identity:
            out.append(PersonIdentity(c.track_id, "identified", match.identity, sim,
                                      bool(is_authorised(match.identity)), face_box))
        else:
            out.append(PersonIdentity(c.track_id, "unknown", None, sim, None, face_box))
    return out


def identified_event(
    node_id: str, request: EscalationRequest, people: Sequence[PersonIdentity],
    model: str | None = None,
) -> Event:
    when = datetime.fromtimestamp(request.frame.captured_at, tz=timezone.utc)
    boxes = np.asarray(request.boxes, np.float32).reshape(-1, 4)
    box = (Box.from_xyxy([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(),
                          boxes[:, 3].max()]) if len(boxes) else None)
    known = [p for p in people if p.status == "identified"]
    score = max((p.similarity or 0.0 for p in known), default=0.0)
    event = Event(
        node_id=node_id,
        camera=request.camera,
        type=IDENTIFIED_EVENT_TYPE,
        track_id=uuid.uuid4().hex,
        lifecycle=Lifecycle.NEW,
        started_at=when,
        frame_time=when,
        score=float(min(1.0, max(0.0, score))),
        box=box,
        frame_size=(request.frame.width, request.frame.height),
        label=request.action,
        labels=[request.action],
        severity=SEVERITY.get(request.action, Severity.INFO),
        model=model,
        attributes=MovementIdentifiedAttributes(
            action=request.action,
            track_ids=list(request.track_ids),
            identities=sorted({p.identity for p in known if p.identity}),
            unknown_faces=sum(p.status == "unknown" for p in people),
            people=[IdentifiedPerson(**asdict(p)) for p in people],
        ),
    )
    return ensure_writable(event)


@dataclass
class EscalationStats:
    requested: int = 0
    identified: int = 0  # events emitted
    skipped: int = 0  # no face analytic on that camera
    dropped: int = 0  # too many pending
    failed: int = 0
    cancelled: int = 0  # still under way when ``drain``'s timeout ran out (shutdown)


# (crops, request) -> the event to publish, or None (nothing to identify with). Blocking.
Identify = Callable[[EscalationRequest, list[PersonCrop]], Event | None]


class EscalationWorker:
    """The movement analytic's escalation hook in the node (see the module docstring).

    ``__call__`` may be called from any thread and never blocks: it copies the crops and
    schedules the rest on ``loop``. At most ``max_pending`` identifications wait at once; more
    are dropped and counted (a brawl of many tracks must not queue face work without bound).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: Executor | None,
        identify: Identify,
        emit: Callable[[Event, Any], Awaitable[None]],
        max_pending: int = 8,
    ) -> None:
        """``executor`` None: the worker runs identifications in its own single-worker pool
        (shut down by ``close``), so they never queue ahead of the cameras' analysis."""
        self._loop = loop
        self._own_executor = executor is None
        self._executor: Executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="citywatch-escalation"
        )
        self._identify = identify
        self._emit = emit
        self._max_pending = max_pending
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = EscalationStats()

    def __call__(self, request: EscalationRequest) -> None:
        crops = person_crops(request)
        try:
            self._loop.call_soon_threadsafe(self._start, request, crops)
        except RuntimeError:  # the loop is closed: the node is shutting down
            log.debug("face escalation of %s on %s after shutdown: ignored", request.action,
                      request.camera)

    def _start(self, request: EscalationRequest, crops: list[PersonCrop]) -> None:
        self.stats.requested += 1
        if len(self._tasks) >= self._max_pending:
            self.stats.dropped += 1
            log.warning("face escalation of %s on %s dropped: %d pending", request.action,
                        request.camera, len(self._tasks))
            return
        task = self._loop.create_task(self._run(request, crops), name="movement-escalation")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: EscalationRequest, crops: list[PersonCrop]) -> None:
        try:
            event = await self._loop.run_in_executor(
                self._executor, self._identify, request, crops
            )
            if event is None:
                self.stats.skipped += 1
                return
            await self._emit(event, request.frame)
            self.stats.identified += 1
        except Exception:  # a failed identification must not cost anything else
            self.stats.failed += 1
            log.exception("face escalation of %s on %s failed", request.action, request.camera)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for the identifications under way (shutdown, tests); those still running after
        ``timeout_s`` are cancelled (counted in ``stats.cancelled``, no event), so none is left
        to reach an outbox that is closing."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            self.stats.cancelled += len(late)
            log.warning("%d face escalation(s) still under way at shutdown: cancelled", len(late))

    def close(self) -> None:
        """Shut down the worker's own pool (not an executor it was given)."""
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
