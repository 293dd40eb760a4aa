"""Over a real Mosquitto: enroll with base64 over MQTT, recognise on an image folder, the gate
opens and a gated analytic starts; remove the person: face.unknown and the gate stays locked.

The node app is not used (it lands in parallel): a minimal node side stands in for it, made of
the real dispatcher, the real face commands, the real face analytic + EventLifecycle, the gate
bound with ``bind_gate`` and a gated stand-in for the object/fire analytics.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import pytest

from node.clock import SystemClock
from node.commands.dispatcher import CommandDispatcher
from node.face.analytic import FaceFactory
from node.face.commands import register_face_commands
from node.face.engine import FaceEngine
from node.face.enroll import FaceService
from node.face.gallery import Gallery
from node.face.gate import AuthorisationGate, bind_gate
from node.frame import Frame
from node.lifecycle import EventLifecycle
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.config.commands import CommandsConfig
from schemas.config.faces import FacesConfig
from schemas.config.gate import GateConfig, GateMode
from schemas.events import Event
from tests.conftest import MosquittoBroker

pytestmark = [pytest.mark.broker, pytest.mark.shared_data, pytest.mark.timeout(120)]
NODE = "n1"


def _client(broker: MosquittoBroker) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, identifier=f"t-{uuid.uuid4().hex[:8]}")


class MiniNode:
    """Dispatcher + face analytic + gate, publishing through one aiomqtt client."""

    def __init__(self, engine: FaceEngine, gallery_path: Path) -> None:
        self.topics = Topics("citywatch", NODE)
        self.gate = AuthorisationGate(GateConfig(mode=GateMode.FACE, frames=2, ttl_s=60),
                                      SystemClock())
        self.service = FaceService(engine, Gallery(gallery_path), gate=self.gate)
        self.factory = FaceFactory(FacesConfig(), engine, self.service.gallery, self.gate)
        self.analytic = self.factory.create("door")
        self.lifecycle = EventLifecycle(NODE, "door", update_interval_s=5, end_after_s=30)
        self.client: aiomqtt.Client | None = None
        self.dispatcher = CommandDispatcher(NODE, self.topics, CommandsConfig(),
                                            self._reply, SystemClock())
        register_face_commands(self.dispatcher, self.service)
        self.gated_runs = 0

    async def _reply(self, topic: str, payload: bytes, corr: bytes | None) -> None:
        assert self.client is not None
        await self.client.publish(topic, payload, qos=1)

    async def emit(self, event: Event) -> None:
        assert self.client is not None
        await self.client.publish(self.topics.event(event.type),
                                  event.model_dump_json().encode(), qos=1)

    async def set_state(self, suffix: str, payload: bytes) -> None:
        assert self.client is not None
        await self.client.publish(self.topics.sub(suffix), payload, qos=1, retain=True)

    async def run_folder(self, folder: Path, repeats: int, start: int) -> None:
        """The camera: every image of the folder, ``repeats`` times, as frames."""
        paths = sorted(str(p) for p in await asyncio.to_thread(lambda: list(folder.iterdir())))
        for i, p in enumerate(paths * repeats, start):
            frame = Frame("door", i, cv2.imread(p), 1_700_000_000.0 + i, float(i))
            result = await asyncio.to_thread(self.analytic.analyze, frame)
            for emitted in self.lifecycle.observe(frame, result.observations):
                await self.emit(emitted.event)
            if self.gate.is_open("door"):  # the pipeline runs gated analytics only now
                self.gated_runs += 1


@contextlib.asynccontextmanager
async def running(node: MiniNode, broker: MosquittoBroker) -> Any:
    async with _client(broker) as client:
        node.client = client
        publish_initial = bind_gate(node.gate, asyncio.get_running_loop(), NODE, node.emit,
                                    node.set_state)
        await publish_initial()
        await client.subscribe(node.topics.command_filter, qos=1)

        async def loop() -> None:
            async for msg in client.messages:
                payload = msg.payload if isinstance(msg.payload, bytes) else b""
                await node.dispatcher.handle(Message(topic=msg.topic.value, payload=payload))

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Observer:
    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.changed = asyncio.Event()

    async def collect(self) -> None:
        async for msg in self.client.messages:
            payload = msg.payload if isinstance(msg.payload, bytes) else b"{}"
            self.got.append((msg.topic.value, json.loads(payload)))
            self.changed.set()

    async def wait_for(self, pred: Any, timeout: float = 20.0) -> dict[str, Any]:
        async def poll() -> dict[str, Any]:
            while True:
                for topic, body in self.got:
                    if pred(topic, body):
                        return body
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(poll(), timeout)

    async def command(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        rid = uuid.uuid4().hex
        await self.client.publish(f"citywatch/{NODE}/cmd/{name}",
                                  json.dumps({"request_id": rid, "params": params}), qos=1)
        return await self.wait_for(lambda t, b: t.endswith(f"reply/{name}")
                                   and b.get("request_id") == rid)


async def test_enroll_recognise_gate_remove_over_broker(
    mosquitto: MosquittoBroker, engine: FaceEngine, celeb5: Path, tmp_path: Path
) -> None:
    node = MiniNode(engine, tmp_path / "gallery.json")
    person = sorted((celeb5 / "train" / "jerry_seinfeld").iterdir())
    camera_folder = celeb5 / "test" / "jerry_seinfeld"
    async with running(node, mosquitto), _client(mosquitto) as client:
        await client.subscribe(f"citywatch/{NODE}/#", qos=1)
        obs = Observer(client)
        collector = asyncio.create_task(obs.collect())
        try:
            state = await obs.wait_for(lambda t, b: t.endswith("state/gate"))
            assert state["state"] == "locked"
            images = [base64.b64encode(p.read_bytes()).decode() for p in person[:5]]
            reply = await obs.command("face_enroll", {"name": "jerry", "images": images,
                                                      "authorised": True})
            assert reply["ok"], reply
            assert reply["data"]["added"] == 5
            bad = await obs.command("face_enroll", {"name": "x", "images": ["@@notb64"]})
            assert (bad["ok"], bad["code"]) == (False, "bad_encoding")
            revoked = await obs.command("face_revoke", {"name": "jerry"})
            assert revoked["ok"] and revoked["data"]["identity"]["authorised"] is False
            # `face_authorize`: the 1.0 spelling of `face_authorise`, still answered
            for spelling in ("face_authorise", "face_authorize"):
                again = await obs.command(spelling, {"name": "jerry"})
                assert again["ok"] and again["data"]["identity"]["authorised"] is True, again

            await node.run_folder(camera_folder, repeats=4, start=0)
            rec = await obs.wait_for(lambda t, b: t.endswith("events/face.recognized"))
            assert rec["attributes"]["identity"] == "jerry" and rec["attributes"]["authorised"]
            opened = await obs.wait_for(lambda t, b: t.endswith("events/gate.opened"))
            assert opened["attributes"]["by"] == "jerry"
            await obs.wait_for(lambda t, b: t.endswith("state/gate") and b["state"] == "open")
            assert node.gated_runs > 0  # the gated analytics started

            reply = await obs.command("face_remove", {"name": "jerry"})
            assert reply["ok"], reply
            closed = await obs.wait_for(lambda t, b: t.endswith("events/gate.closed"))
            assert closed["attributes"]["reason"] == "revoked"
            listed = await obs.command("face_list", {})
            assert listed["data"]["identities"] == []

            runs_before = node.gated_runs
            node.analytic.reset()
            node.lifecycle = EventLifecycle(NODE, "door", update_interval_s=5, end_after_s=30)
            n_before = len(obs.got)
            await node.run_folder(camera_folder, repeats=4, start=100)
            unk = await obs.wait_for(lambda t, b: t.endswith("events/face.unknown"))
            assert "crop_jpeg_b64" not in unk["attributes"]
            later = obs.got[n_before:]
            assert not any(t.endswith("events/face.recognized") for t, _ in later)
            assert not any(t.endswith("events/gate.opened") for t, _ in later)
            assert node.gated_runs == runs_before and not node.gate.is_open("door")
        finally:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collector
