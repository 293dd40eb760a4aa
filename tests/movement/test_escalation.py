"""Face escalation after a fall or fight: real face models on real photos pasted into a frame
(enrolled -> named, not enrolled -> unknown, no face -> no_face), and the worker that runs it off
the event loop and emits one ``movement.identified`` event."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from node.face.analytic import build_engine
from node.face.engine import FaceEngine
from node.face.enroll import FaceService
from node.face.gallery import Gallery
from node.frame import Frame
from node.movement.escalation import (
    EscalationRequest,
    EscalationWorker,
    PersonCrop,
    PersonIdentity,
    identified_event,
    identify_people,
    person_crops,
)
from node.movement.events import IDENTIFIED_EVENT_TYPE
from schemas.attributes import MovementIdentifiedAttributes
from schemas.config.faces import FacesConfig
from schemas.events import Event, Lifecycle, Severity
from tests.conftest import SharedData

KNOWN = "elton_john"
# person boxes (x1, y1, x2, y2) in a 1280x720 frame; the face photo is pasted at the top
BOX_KNOWN = (100.0, 80.0, 250.0, 480.0)
BOX_STRANGER = (500.0, 60.0, 700.0, 560.0)
BOX_NO_FACE = (900.0, 200.0, 1050.0, 600.0)


def _paste(frame: npt.NDArray[np.uint8], img: npt.NDArray[np.uint8],
           box: tuple[float, float, float, float]) -> None:
    x1, y1, x2, _ = (int(v) for v in box)
    w = x2 - x1
    face = cv2.resize(img, (w, w * img.shape[0] // img.shape[1]))
    frame[y1 : y1 + face.shape[0], x1:x2] = face


@pytest.fixture(scope="module")
def engine(shared_data: SharedData) -> FaceEngine:
    models = shared_data.path("models")
    return build_engine(FacesConfig(), models_dir=str(models))


@pytest.fixture(scope="module")
def frame(shared_data: SharedData) -> Frame:
    img = np.full((720, 1280, 3), 90, np.uint8)
    celeb = shared_data.path("datasets/faces/celeb5/test") / KNOWN
    _paste(img, cv2.imread(str(sorted(celeb.iterdir())[0])), BOX_KNOWN)
    astronaut = cv2.imread(str(shared_data.path("datasets/images/astronaut.png")))
    _paste(img, astronaut[:300, 130:430], BOX_STRANGER)  # her head and shoulders
    return Frame("street", 7, img, 1_700_000_000.0, 12.5)


@pytest.fixture
def gallery(engine: FaceEngine, shared_data: SharedData, tmp_path: Path) -> Gallery:
    service = FaceService(engine, Gallery(tmp_path / "gallery.json"))
    train = sorted((shared_data.path("datasets/faces/celeb5/train") / KNOWN).iterdir())
    service.enroll_images(KNOWN, [p.read_bytes() for p in train[:6]], authorised=True)
    return service.gallery


def _request(frame: Frame, action: str = "fight") -> EscalationRequest:
    return EscalationRequest("street", action, (3, 4, 5), (BOX_KNOWN, BOX_STRANGER, BOX_NO_FACE),
                             frame)


def _identify(engine: FaceEngine, gallery: Gallery, request: EscalationRequest
              ) -> list[PersonIdentity]:
    cfg = FacesConfig()
    return identify_people(person_crops(request), engine,
                           gallery.matcher(cfg.match_threshold, cfg.match_margin),
                           gallery.is_authorised)


def test_crops_are_the_grown_person_boxes_clipped_to_the_frame(frame: Frame) -> None:
    req = EscalationRequest("street", "fall", (1, 2), ((100, 80, 250, 480), (-50, 600, 60, 900)),
                            frame)
    a, b = person_crops(req)
    assert a.origin == (77, 20) and a.image.shape == (520, 196, 3)  # 15 % more on each side
    assert b.origin == (0, 555) and b.image.shape == (165, 77, 3)
    assert not np.shares_memory(a.image, frame.image)  # a copy: the frame may be reused


def test_enrolled_person_is_named_a_stranger_is_unknown(
    engine: FaceEngine, gallery: Gallery, frame: Frame
) -> None:
    people = _identify(engine, gallery, _request(frame))
    assert [(p.track_id, p.status) for p in people] == [
        (3, "identified"), (4, "unknown"), (5, "no_face")]
    known, stranger, nobody = people
    assert known.identity == KNOWN and known.authorised is True
    assert known.similarity is not None and known.similarity >= FacesConfig().match_threshold
    assert stranger.identity is None and stranger.authorised is None
    assert nobody.face_box is None and nobody.similarity is None
    # face boxes are in frame pixels, inside the person's (grown) box, near its top
    for p, box in ((known, BOX_KNOWN), (stranger, BOX_STRANGER)):
        assert p.face_box is not None
        fx1, fy1, fx2, fy2 = p.face_box
        x1, y1, x2, y2 = box
        assert x1 - 30 <= fx1 < fx2 <= x2 + 30 and y1 - 60 <= fy1 < fy2 <= (y1 + y2) / 2


def test_without_enrollment_everyone_is_unknown(engine: FaceEngine, frame: Frame,
                                                tmp_path: Path) -> None:
    people = _identify(engine, Gallery(tmp_path / "empty.json"), _request(frame))
    assert [p.status for p in people] == ["unknown", "unknown", "no_face"]


def test_identified_event_shape(engine: FaceEngine, gallery: Gallery, frame: Frame) -> None:
    req = _request(frame, "fall")
    people = _identify(engine, gallery, req)
    e = identified_event("n1", req, people, model="yunet+mobilefacenet")
    assert e.type == IDENTIFIED_EVENT_TYPE == "movement.identified"
    assert e.lifecycle is Lifecycle.NEW and e.label == "fall" and e.labels == ["fall"]
    assert e.severity is Severity.CRITICAL and e.camera == "street"
    assert e.box is not None and e.box.as_list() == [100.0, 60.0, 1050.0, 600.0]
    assert e.frame_size == (1280, 720)
    assert e.started_at.timestamp() == frame.captured_at
    assert e.score == pytest.approx(people[0].similarity)
    a = e.attributes
    assert isinstance(a, MovementIdentifiedAttributes)
    assert a.action == "fall" and a.track_ids == [3, 4, 5]
    assert a.identities == [KNOWN] and a.unknown_faces == 1
    assert [p.status for p in a.people] == ["identified", "unknown", "no_face"]
    published = json.loads(e.model_dump_json())["attributes"]["people"]
    assert all(set(p) == {"track_id", "status", "identity", "similarity", "authorised",
                          "face_box"} for p in published)  # every key, null when it does not apply
    assert Event.model_validate_json(e.model_dump_json()) == e  # the published form round trips


async def test_worker_identifies_off_the_loop_and_emits_one_event(frame: Frame) -> None:
    """The hook is called from the analytic's worker thread; identification runs in the
    executor. It waits for a coroutine on the loop to release it, so a blocked loop would
    deadlock (and time out) instead of passing."""
    loop = asyncio.get_running_loop()
    release = threading.Event()
    started = asyncio.Event()
    emitted: list[tuple[Event, Frame | None]] = []

    def identify(req: EscalationRequest, crops: list[PersonCrop]) -> Event | None:
        loop.call_soon_threadsafe(started.set)
        assert release.wait(10), "the event loop never ran while identification was under way"
        assert [c.track_id for c in crops] == [3, 4, 5]
        return identified_event("n1", req, [PersonIdentity(c.track_id, "no_face") for c in crops])

    async def emit(event: Event, snap: Any) -> None:
        emitted.append((event, snap))

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        worker = EscalationWorker(loop, pool, identify, emit)
        caller = threading.Thread(target=worker, args=(_request(frame),))
        caller.start()
        caller.join(5)  # the hook returns at once, whatever identification costs
        assert not caller.is_alive()
        await asyncio.wait_for(started.wait(), 10)
        assert worker.pending == 1 and emitted == []
        release.set()  # from the loop: proves it is free
        await asyncio.wait_for(worker.drain(), 10)
    assert len(emitted) == 1 and emitted[0][1] is frame
    attrs = emitted[0][0].attributes
    assert isinstance(attrs, MovementIdentifiedAttributes) and attrs.people[2].status == "no_face"
    assert (worker.stats.requested, worker.stats.identified, worker.stats.failed) == (1, 1, 0)


async def test_worker_skips_drops_and_survives_failures(frame: Frame) -> None:
    loop = asyncio.get_running_loop()
    calls: list[str] = []

    def identify(req: EscalationRequest, crops: list[PersonCrop]) -> Event | None:
        calls.append(req.action)
        if req.action == "fall":
            raise RuntimeError("model gone")
        return None  # e.g. faces switched off on this camera

    async def emit(event: Event, snap: Any) -> None:
        raise AssertionError("nothing to emit")

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        worker = EscalationWorker(loop, pool, identify, emit, max_pending=2)
        for action in ("fall", "fight", "fight"):
            worker(_request(frame, action))
        await asyncio.sleep(0)  # the scheduled starts run
        await asyncio.wait_for(worker.drain(), 10)
    s = worker.stats
    assert (s.requested, s.dropped, s.failed, s.skipped, s.identified) == (3, 1, 1, 1, 0)
    assert calls == ["fall", "fight"]


async def test_drain_cancels_what_is_still_under_way_after_its_timeout(frame: Frame) -> None:
    """Shutdown: an identification still running when the timeout runs out is cancelled, so it
    emits nothing into an outbox that is closing (and is counted, not logged as failed)."""
    loop = asyncio.get_running_loop()
    release = threading.Event()
    started = asyncio.Event()
    emitted: list[Event] = []

    def identify(req: EscalationRequest, crops: list[PersonCrop]) -> Event | None:
        loop.call_soon_threadsafe(started.set)
        release.wait(10)
        return identified_event("n1", req, [PersonIdentity(c.track_id, "no_face") for c in crops])

    async def emit(event: Event, snap: Any) -> None:
        emitted.append(event)

    worker = EscalationWorker(loop, None, identify, emit)
    worker(_request(frame))
    await asyncio.wait_for(started.wait(), 10)
    await worker.drain(0.05)
    assert worker.pending == 0
    release.set()
    worker.close()
    await asyncio.sleep(0.2)  # the thread finishes; nothing may reach `emit` any more
    s = worker.stats
    assert emitted == [] and (s.cancelled, s.failed, s.identified) == (1, 0, 0)


async def test_worker_runs_identifications_in_its_own_single_thread(frame: Frame) -> None:
    """Not in the node's pool: identifications never queue ahead of camera analysis."""
    loop = asyncio.get_running_loop()
    threads: list[str] = []

    def identify(req: EscalationRequest, crops: list[PersonCrop]) -> Event | None:
        threads.append(threading.current_thread().name)
        return None

    async def emit(event: Event, snap: Any) -> None:
        raise AssertionError("nothing to emit")

    worker = EscalationWorker(loop, None, identify, emit)
    for action in ("fall", "fight"):
        worker(_request(frame, action))
    await asyncio.sleep(0)
    await asyncio.wait_for(worker.drain(), 10)
    worker.close()
    assert len(threads) == 2 and len(set(threads)) == 1
    assert threads[0].startswith("citywatch-escalation")
