"""The ``explain`` command end to end through a real Mosquitto (the dispatcher and the
explanation service, tiny models), its refusals, and explanations attached to ``new`` events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np
import pytest

from node.clock import SystemClock
from node.commands import CommandDispatcher
from node.explain.explainer import Explainer, ExplainModels
from node.explain.service import ExplainService
from node.frame import Frame
from node.mqtt.topics import Topics
from schemas.commands import Reply
from schemas.config.commands import CommandsConfig
from schemas.config.explain import ExplainConfig, ExplainOnEvents
from schemas.events import Box, Event, Lifecycle
from schemas.explain import ExplainReport
from tests.commands.test_broker import ClientSink, _client, node_side
from tests.conftest import MosquittoBroker
from tests.explain.tiny_models import detector_session, fire_model, textured_image

NODE = "node-x"
TIMEOUT = 30.0
ANALYTICS = {"fire": "fire", "smoke": "fire", "weapon": "objects", "person": "objects"}


def _frame(camera: str = "cam1", width: int = 64, height: int = 48) -> Frame:
    return Frame(camera, 7, textured_image(width, height), time.time(), time.monotonic())


def _service(
    tmp_path: Path, publish: Any, config: ExplainConfig | None = None,
    on_events: dict[str, ExplainOnEvents] | None = None, explainer: Explainer | None = None,
) -> ExplainService:  # fmt: skip
    model, detector = fire_model(tmp_path), detector_session(tmp_path)
    frames = {"cam1": _frame()}

    async def latest(camera: str) -> Frame | None:
        return frames.get(camera)
    return ExplainService(
        explainer or Explainer(ExplainModels(fire=lambda: model,
                                             detectors={"objects": lambda: detector})),
        config or ExplainConfig(),
        Topics("citywatch", NODE),
        publish,
        latest_frame=latest,
        cameras=["cam1", "cam2"],
        analytic_of=ANALYTICS.get,
        on_events=on_events,
    )  # fmt: skip


def _event(label: str, etype: str, box: tuple[float, ...] | None = None,
           lifecycle: Lifecycle = Lifecycle.NEW) -> Event:  # fmt: skip
    now = datetime.now(UTC)
    attributes: dict[str, Any] = (
        {"threshold": 0.5, "k_of_n": "3/5", "localisation": "cam"} if etype in ("fire", "smoke")
        else {"track_id": 1, "hits": 3, "median_score": 0.9, "age_s": 1.0, "zones": [],
              "stationary": False}
    )  # fmt: skip
    return Event(
        node_id=NODE, camera="cam1", type=etype, track_id="1", lifecycle=lifecycle,
        started_at=now, score=0.9, label=label, attributes=attributes,
        box=Box(x1=box[0], y1=box[1], x2=box[2], y2=box[3]) if box else None,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running(
    broker: MosquittoBroker, tmp_path: Path, **kw: Any
) -> AsyncIterator[tuple[ExplainService, aiomqtt.Client, Topics]]:
    sink = ClientSink()
    topics = Topics("citywatch", NODE)
    d = CommandDispatcher(NODE, topics, CommandsConfig(), sink, SystemClock())
    service = _service(tmp_path, d.publish, **kw)
    service.register(d)
    try:
        async with node_side(broker, {NODE: (d, sink)}), _client(broker) as user:
            await user.subscribe(topics.sub("reply/#"), qos=1)
            await user.subscribe(topics.sub("explain/#"), qos=1)
            yield service, user, topics
    finally:
        await service.close()


async def _ask(user: aiomqtt.Client, topics: Topics, params: dict[str, Any],
               want: int = 1) -> dict[str, aiomqtt.Message]:  # fmt: skip
    """Send ``explain`` and collect the reply and, when it succeeded, the image and report."""
    payload = json.dumps({"request_id": "r1", "params": params}).encode()
    await user.publish(topics.command("explain"), payload, qos=1)
    got: dict[str, aiomqtt.Message] = {}

    async def collect() -> None:
        async for msg in user.messages:
            got[msg.topic.value] = msg
            if topics.reply("explain") in got and len(got) >= want:
                return

    await asyncio.wait_for(collect(), TIMEOUT)
    return got


@pytest.mark.broker
async def test_explain_a_camera_frame_over_mqtt(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async with running(mosquitto, tmp_path) as (_, user, topics):
        got = await _ask(user, topics, {"camera": "cam1", "model": "fire", "method": "rise",
                                        "target": "fire", "budget": 64}, want=3)  # fmt: skip
    reply = Reply.model_validate_json(got[topics.reply("explain")].payload)
    assert reply.ok and reply.request_id == "r1" and reply.data is not None
    report = ExplainReport.model_validate(reply.data)
    assert set(reply.data) >= {"method", "model", "target", "peak", "box", "masks", "ms"}
    assert (report.method, report.model, report.target, report.masks) == ("rise", "fire",
                                                                          "fire", 64)  # fmt: skip
    assert report.camera == "cam1" and report.topic == topics.explain_image
    x, y = report.peak
    assert x < 32 and y < 24  # the tiny model reads the top-left quadrant
    jpeg = got[topics.explain_image].payload
    image = cv2.imdecode(np.frombuffer(bytes(jpeg), np.uint8), cv2.IMREAD_COLOR)  # type: ignore[arg-type]
    assert image.shape == (48, 64, 3)
    published = ExplainReport.model_validate_json(got[topics.explain_report].payload)
    assert published == report


@pytest.mark.broker
async def test_explain_a_recent_event_by_id(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async with running(mosquitto, tmp_path) as (service, user, topics):
        frame = _frame(width=64, height=64)
        event = _event("thing", "weapon", box=(32, 32, 64, 64), lifecycle=Lifecycle.UPDATE)
        service.observe(event, frame)
        got = await _ask(user, topics, {"event_id": event.event_id, "method": "drise",
                                        "budget": 64})  # fmt: skip
    reply = Reply.model_validate_json(got[topics.reply("explain")].payload)
    assert reply.ok, reply.message
    assert reply.data is not None
    assert reply.data["event_id"] == event.event_id and reply.data["model"] == "objects"
    assert reply.data["target"] == "thing@[32, 32, 64, 64]"  # the event's box and class


@pytest.mark.broker
@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"camera": "cam1", "model": "fire", "method": "magic"}, "invalid_params",
         "method: Input should be 'cam', 'gradcam', 'rise', 'drise', 'occlusion' or 'lime'"),
        ({"event_id": "no-such-event", "method": "rise"}, "not_found",
         "no recent event 'no-such-event'"),
        ({"camera": "cam1", "model": "fire", "method": "rise", "budget": 50000},
         "invalid_params", "budget 50000 is more than this node allows (explain.max_budget"),
        ({"camera": "cam9", "model": "fire", "method": "rise"}, "not_found",
         "unknown camera 'cam9'"),
        ({"camera": "cam2", "model": "fire", "method": "rise"}, "unavailable",
         "no frame from camera 'cam2' yet"),
        ({"camera": "cam1", "method": "rise"}, "invalid_params", "model is required"),
        ({"camera": "cam1", "event_id": "e", "model": "fire", "method": "rise"},
         "invalid_params", "exactly one of event_id or camera"),
        ({"camera": "cam1", "model": "fire", "method": "drise"}, "invalid_params",
         "drise is not available for fire"),
        ({"camera": "cam1", "model": "fire", "method": "rise", "target": "steam"}, "not_found",
         "unknown class 'steam'"),
        ({"camera": "cam1", "model": "suspect", "method": "drise"}, "invalid_params",
         "the suspect model is not available here"),
    ],
)  # fmt: skip
async def test_bad_params_get_a_clear_error_reply(
    mosquitto: MosquittoBroker, tmp_path: Path, params: dict[str, Any], code: str, message: str
) -> None:
    async with running(mosquitto, tmp_path) as (service, user, topics):
        got = await _ask(user, topics, params)
        reply = Reply.model_validate_json(got[topics.reply("explain")].payload)
        assert not reply.ok and reply.code is not None
        assert (reply.code.value, reply.request_id) == (code, "r1")
        assert reply.message is not None and message in reply.message, reply.message
        assert topics.explain_image not in got  # nothing published for a refusal
        # still serving
        ok = await _ask(user, topics, {"camera": "cam1", "model": "fire", "method": "cam"})
        assert Reply.model_validate_json(ok[topics.reply("explain")].payload).ok
        assert service.failed <= 1


class _Publishes:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, topic: str, payload: bytes) -> None:
        self.sent.append((topic, payload))
        self.arrived.set()


async def test_a_passed_deadline_is_refused(tmp_path: Path) -> None:
    from node.commands.errors import CommandError
    from schemas.explain import ExplainParams

    service = _service(tmp_path, _Publishes(), ExplainConfig(deadline_s=1e-9))
    try:
        with pytest.raises(CommandError) as err:
            await service.command(ExplainParams(camera="cam1", model="fire", method="rise",
                                                budget=500), None)  # type: ignore[arg-type]  # fmt: skip
        assert err.value.code.value == "deadline_exceeded"
        assert "deadline of 0.0 s passed after 0 of 500" in err.value.message
    finally:
        await service.close()


async def test_requests_beyond_max_pending_are_refused(tmp_path: Path) -> None:
    from node.commands.errors import CommandError
    from schemas.explain import ExplainParams

    release = threading.Event()
    model = fire_model(tmp_path)
    inner = model.backend.run

    def slow(batch: np.ndarray) -> Any:
        release.wait(TIMEOUT)
        return inner(batch)

    model.backend.run = slow  # type: ignore[method-assign]
    explainer = Explainer(ExplainModels(fire=lambda: model))
    service = _service(tmp_path, _Publishes(), ExplainConfig(max_pending=1), explainer=explainer)
    p = ExplainParams(camera="cam1", model="fire", method="cam")
    try:
        first = asyncio.ensure_future(service.command(p, None))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the first one is queued
        with pytest.raises(CommandError) as err:
            await service.command(p, None)  # type: ignore[arg-type]
        assert err.value.code.value == "unavailable" and "max_pending" in err.value.message
        release.set()
        assert (await asyncio.wait_for(first, TIMEOUT))["method"] == "cam"
    finally:
        release.set()
        await service.close()


async def test_new_events_of_configured_types_get_an_explanation(tmp_path: Path) -> None:
    sent = _Publishes()
    service = _service(tmp_path, sent, on_events={
        "fire": ExplainOnEvents(types=["fire"], budget=32)})  # fmt: skip
    topics = Topics("citywatch", NODE)
    try:
        service.observe(_event("smoke", "smoke"), _frame())  # a type not chosen
        service.observe(_event("fire", "fire", lifecycle=Lifecycle.UPDATE), _frame())  # not new
        assert not service._tasks
        fire = _event("fire", "fire")
        service.observe(fire, _frame())
        await asyncio.wait_for(asyncio.gather(*service._tasks), TIMEOUT)
        by_topic = dict(sent.sent)
        report = ExplainReport.model_validate_json(by_topic[topics.explain_report])
        assert (report.event_id, report.method, report.target, report.masks) == (
            fire.event_id, "rise", "fire", 32)  # fmt: skip
        assert by_topic[topics.explain_image][:2] == b"\xff\xd8"  # a JPEG
    finally:
        await service.close()


def test_event_explanations_that_cannot_work_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    from node.explain.wiring import analytic_of_types, on_events
    from schemas.config import NodeConfig

    config = NodeConfig.model_validate({"analytics": {
        "fire": {"enabled": True, "explain": {"types": ["fire"], "method": "gradcam"}},
        "objects": {"enabled": True, "explain": {"types": ["weapon"], "method": "lime"}},
        "synthetic": {"enabled": True, "explain": {"types": ["synthetic"]}},
        "noop": {"enabled": True, "explain": {"types": ["fire"], "method": "cam"}},
    }})  # fmt: skip
    running = ["fire", "objects", "synthetic", "noop"]
    kept = on_events(config, running, analytic_of_types(config, running))
    assert set(kept) == {"fire"}
    log = caplog.text
    assert "analytics.objects.explain ignored: lime is not available for objects" in log
    assert "analytics.synthetic.explain ignored: synthetic has no explainable model" in log
    assert "analytics.noop.explain ignored: noop has no explainable model" in log


async def test_a_face_event_is_explained_for_its_identity(tmp_path: Path) -> None:
    from schemas.explain import ExplainParams

    service = _service(tmp_path, _Publishes())
    now = datetime.now(UTC)
    event = Event(
        node_id=NODE, camera="cam1", type="face.recognized", track_id="4",
        lifecycle=Lifecycle.NEW, started_at=now, score=0.8, label="alice",
        attributes={"similarity": 0.7, "votes": 3, "face_track": 4, "identity": "alice",
                    "authorised": True},
    )  # fmt: skip
    try:
        service.observe(event, _frame())
        job = await service._job(ExplainParams(event_id=event.event_id, model="faces",
                                               method="occlusion"))  # fmt: skip
        assert (job.request.model, job.request.identity, job.event_id) == (
            "faces", "alice", event.event_id)  # fmt: skip
    finally:
        await service.close()
