"""model_swap / model_rollback over a real Mosquitto, with a camera thread serving meanwhile.

The node side is the real ``CommandDispatcher`` plus the swap handlers, fed by a minimal aiomqtt
loop (as in tests/commands/test_broker.py). The slot starts with ``y = x + 1``; the good swap
brings ``y = x + 2``, so every camera frame shows which model served it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
import pytest

from node.clock import SystemClock
from node.commands.dispatcher import CommandDispatcher
from node.commands.model_swap import register_model_commands
from node.inference.handle import ModelHandle
from node.inference.session import ModelSession
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from node.registry.loader import ModelLoader
from node.registry.store import ModelStore
from schemas.commands import ErrorCode, Reply
from schemas.config.commands import CommandsConfig
from schemas.manifest import ModelSlotState
from tests.conftest import MosquittoBroker, free_port
from tests.inference.tiny_models import add_manifest, add_model, sha256
from tests.registry.mirror import Mirror, serve

pytestmark = pytest.mark.broker
TIMEOUT = 20.0
SLOT = "adder"


class Camera:
    """Runs the slot's current session on a frame every few ms in its own thread, like the
    pipeline's worker: ``handle.session`` is read once per frame."""

    def __init__(self, handle: ModelHandle) -> None:
        self.handle = handle
        self.outputs: list[float] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        x = np.zeros((1, 4), np.float32)
        while not self._stop.is_set():
            try:
                session = self.handle.session
                self.outputs.append(float(session.run({"x": x})[0][0, 0]))
            except BaseException as err:
                self.errors.append(err)
            self._stop.wait(0.002)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait_for(self, value: float) -> None:
        start = len(self.outputs)
        for _ in range(int(TIMEOUT / 0.01)):
            if value in self.outputs[start:]:
                return
            self._stop.wait(0.01)
        raise AssertionError(f"camera never produced {value}; last {self.outputs[-5:]}")


@dataclass
class Rig:
    topics: Topics
    controller: aiomqtt.Client
    replies: asyncio.Queue[Reply]
    states: asyncio.Queue[ModelSlotState]
    node_events: list[str]
    camera: Camera
    handle: ModelHandle
    mirror: Mirror
    files: Path
    sent: list[str] = field(default_factory=list)

    async def command(self, name: str, params: dict[str, Any]) -> Reply:
        rid = uuid.uuid4().hex[:12]
        payload = json.dumps({"request_id": rid, "params": params})
        await self.controller.publish(self.topics.command(name), payload, qos=1)
        while True:
            reply = await asyncio.wait_for(self.replies.get(), TIMEOUT)
            if reply.request_id == rid:
                return reply

    def url(self, file: str, route: str = "") -> str:
        return f"{self.mirror.url}{route}/{file}"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    d = tmp_path / "files"
    d.mkdir()
    add_model(d / "plus2.onnx", 2.0)
    add_model(d / "plus3.onnx", 3.0)
    add_model(d / "images_input.onnx", 2.0, in_name="images")
    (d / "corrupt.onnx").write_bytes(b"\x08\x07garbage that is not a protobuf")
    return d


@contextlib.asynccontextmanager
async def node_side(
    broker: MosquittoBroker, dispatcher: CommandDispatcher, topics: Topics, events: list[str]
) -> AsyncIterator[aiomqtt.Client]:
    will = aiomqtt.Will(topics.availability, b"offline", qos=1, retain=True)
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"node-{uuid.uuid4().hex[:8]}", will=will
    ) as client:
        await client.subscribe(topics.command_filter, qos=1)

        handling: set[asyncio.Task[None]] = set()

        async def pump() -> None:
            async for msg in client.messages:
                # One task per command, as the node does: a slow swap must not block the rest.
                t = asyncio.create_task(dispatcher.handle(Message.from_aiomqtt(msg)))
                handling.add(t)
                t.add_done_callback(handling.discard)

        task = asyncio.create_task(pump())
        events.append("connected")
        try:
            yield client
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def rig(
    mosquitto: MosquittoBroker, tmp_path: Path, files: Path
) -> AsyncIterator[Rig]:
    topics = Topics("citywatch", f"n{uuid.uuid4().hex[:6]}")
    first = add_model(tmp_path / "plus1.onnx", 1.0)
    handle = ModelHandle(SLOT, ModelSession(first, add_manifest(name=SLOT, path=first)))
    loader = ModelLoader(ModelStore(tmp_path / "store", registry={}, progress_stream=None))
    loader.add(handle, analytic="counter")
    node_events: list[str] = []
    client_box: list[aiomqtt.Client] = []

    async def publish_reply(topic: str, payload: bytes, corr: bytes | None) -> None:
        await client_box[0].publish(topic, payload, qos=1)

    async def publish_state(suffix: str, payload: bytes) -> None:
        await client_box[0].publish(topics.sub(suffix), payload, qos=1, retain=True)

    dispatcher = CommandDispatcher(
        topics.node_id, topics, CommandsConfig(), publish_reply, SystemClock()
    )
    register_model_commands(dispatcher, loader, publish_state)
    camera = Camera(handle)
    with serve(files) as mirror:
        async with node_side(mosquitto, dispatcher, topics, node_events) as node_client:
            client_box.append(node_client)
            async with aiomqtt.Client(mosquitto.host, mosquitto.port) as controller:
                await controller.subscribe(topics.sub("reply/+"), qos=1)
                await controller.subscribe(topics.sub("state/model/#"), qos=1)
                await controller.subscribe(topics.availability, qos=1)
                replies: asyncio.Queue[Reply] = asyncio.Queue()
                states: asyncio.Queue[ModelSlotState] = asyncio.Queue()

                async def listen() -> None:
                    async for msg in controller.messages:
                        body = bytes(msg.payload)  # type: ignore[arg-type]
                        if msg.topic.matches(topics.availability):
                            node_events.append(f"availability:{body.decode()}")
                        elif msg.topic.matches(topics.sub("state/model/#")):
                            states.put_nowait(ModelSlotState.model_validate_json(body))
                        else:
                            replies.put_nowait(Reply.model_validate_json(body))

                listener = asyncio.create_task(listen())
                camera.start()
                try:
                    yield Rig(
                        topics, controller, replies, states, node_events, camera, handle,
                        mirror, files,
                    )
                finally:
                    camera.stop()
                    listener.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await listener


async def test_good_swap_then_rollback(rig: Rig) -> None:
    rig.camera.wait_for(1.0)
    digest = sha256(rig.files / "plus2.onnx")
    frames_before = len(rig.camera.outputs)
    reply = await rig.command(
        "model_swap",
        {"model": SLOT, "url": rig.url("plus2.onnx", "/slow"), "sha256": digest, "version": "2"},
    )
    frames_during = len(rig.camera.outputs) - frames_before
    assert reply.ok, reply
    assert reply.data is not None and reply.data["active"]["sha256"] == digest
    assert reply.data["previous"]["version"] == "1"
    # The camera kept producing results while the new model was fetched and loaded.
    assert frames_during > 0
    rig.camera.wait_for(2.0)
    state = await asyncio.wait_for(rig.states.get(), TIMEOUT)
    assert (state.slot, state.active.version, state.active.sha256) == (SLOT, "2", digest)

    reply = await rig.command("model_rollback", {"analytic": "counter"})
    assert reply.ok, reply
    rig.camera.wait_for(1.0)
    state = await asyncio.wait_for(rig.states.get(), TIMEOUT)
    assert (state.active.version, state.previous and state.previous.version) == ("1", "2")

    # One connection throughout: no will ("offline") was published, nothing reconnected.
    assert rig.node_events == ["connected"]
    assert rig.camera.errors == []
    assert set(rig.camera.outputs) == {1.0, 2.0}


async def test_state_is_retained(rig: Rig, mosquitto: MosquittoBroker) -> None:
    digest = sha256(rig.files / "plus3.onnx")
    reply = await rig.command("model_swap", {"model": SLOT, "url": rig.url("plus3.onnx"),
                                             "sha256": digest})
    assert reply.ok, reply
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as late:
        await late.subscribe(rig.topics.state(f"model/{SLOT}"), qos=1)
        msg = await asyncio.wait_for(anext(aiter(late.messages)), TIMEOUT)
    assert msg.retain
    state = ModelSlotState.model_validate_json(bytes(msg.payload))  # type: ignore[arg-type]
    assert state.active.sha256 == digest and state.active.version == f"sha256-{digest[:12]}"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("corrupt", ErrorCode.MODEL_LOAD_FAILED),
        ("wrong_sha", ErrorCode.CHECKSUM_MISMATCH),
        ("other_inputs", ErrorCode.MANIFEST_MISMATCH),
        ("unreachable", ErrorCode.FETCH_FAILED),
        ("not_found", ErrorCode.FETCH_FAILED),
    ],
)
async def test_failed_swap_keeps_the_old_model(rig: Rig, case: str, code: ErrorCode) -> None:
    params: dict[str, Any] = {
        "corrupt": {"url": rig.url("corrupt.onnx"), "sha256": sha256(rig.files / "corrupt.onnx")},
        "wrong_sha": {"url": rig.url("plus2.onnx"), "sha256": "0" * 64},
        "other_inputs": {
            "url": rig.url("images_input.onnx"),
            "sha256": sha256(rig.files / "images_input.onnx"),
        },
        "unreachable": {"url": f"http://127.0.0.1:{free_port()}/m.onnx", "sha256": "1" * 64},
        "not_found": {"url": rig.url("missing.onnx"), "sha256": "1" * 64},
    }[case]
    reply = await rig.command("model_swap", {"model": SLOT, **params})
    assert not reply.ok
    assert reply.code == code, reply
    assert reply.message
    assert (rig.handle.version, rig.handle.previous) == ("1", None)
    rig.camera.wait_for(1.0)
    assert set(rig.camera.outputs) == {1.0}
    assert rig.camera.errors == []
    assert rig.states.empty()  # no state change was announced
    assert rig.node_events == ["connected"]


async def test_refusals(rig: Rig) -> None:
    r = await rig.command("model_rollback", {"model": SLOT})
    assert (r.ok, r.code) == (False, ErrorCode.NO_PREVIOUS_MODEL)
    r = await rig.command("model_rollback", {"analytic": "nope"})
    assert (r.ok, r.code) == (False, ErrorCode.NOT_FOUND)
    r = await rig.command("model_swap", {"model": SLOT, "url": rig.url("plus2.onnx")})
    assert (r.ok, r.code) == (False, ErrorCode.INVALID_PARAMS)
    assert r.message and "sha256" in r.message
    r = await rig.command("model_swap", {"model": SLOT, "analytic": "counter", "name": "x"})
    assert (r.ok, r.code) == (False, ErrorCode.INVALID_PARAMS)
    r = await rig.command("model_swap", {"model": SLOT, "name": "not_in_registry"})
    assert (r.ok, r.code) == (False, ErrorCode.NOT_FOUND)
