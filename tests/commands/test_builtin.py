"""Built-in commands against a fake RuntimeControl and a real NodeConfig."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from node import __version__
from node.clock import ManualClock
from node.commands import CommandDispatcher, CommandError, register_builtin
from node.config import parse_config
from node.mqtt.topics import Topics
from schemas.commands import ErrorCode
from schemas.config import NodeConfig
from tests.commands.conftest import DispatcherFactory, Recorder, cmd

JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


@dataclass
class FakeControl:
    calls: list[tuple[object, ...]] = field(default_factory=list)
    frame: bytes = JPEG
    asynchronous: bool = False

    def set_camera_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append(("camera", name, enabled))

    def set_analytic_enabled(self, name: str, enabled: bool, camera: str | None) -> None:
        if camera == "gate":
            raise CommandError(ErrorCode.NOT_FOUND, "noop does not run on gate")
        self.calls.append(("analytic", name, enabled, camera))

    def snapshot(self, camera: str) -> bytes | asyncio.Future[bytes]:
        self.calls.append(("snapshot", camera))
        if not self.asynchronous:
            return self.frame
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        fut.set_result(self.frame)
        return fut


def make_config() -> NodeConfig:
    return parse_config(
        {
            "node_id": "node-1",
            "mqtt": {"host": "broker", "password": "mqtt-pass"},
            "cameras": [
                {"name": "street", "source": "rtsp://admin:hunter2@10.0.0.5:554/live"},
                {"name": "gate", "source": "video.mp4"},
            ],
            "commands": {"secret": "cmd-secret"},
        },
        environ={},
    )


@pytest.fixture
def config() -> NodeConfig:
    return make_config()


@pytest.fixture
def control() -> FakeControl:
    return FakeControl()


@pytest.fixture
def builtin(
    make_dispatcher: DispatcherFactory, control: FakeControl, config: NodeConfig,
    clock: ManualClock,
) -> CommandDispatcher:
    d = make_dispatcher()
    register_builtin(d, control, config, clock)
    return d


async def test_ping(
    builtin: CommandDispatcher, recorder: Recorder, topics: Topics, clock: ManualClock
) -> None:
    clock.advance(12.5)
    await builtin.handle(cmd(topics, "ping", {"request_id": "p"}))
    assert recorder.last.json["data"] == {
        "node_id": "node-1", "version": __version__, "uptime_s": 12.5
    }


async def test_ping_refuses_params(
    builtin: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    await builtin.handle(cmd(topics, "ping", {"params": {"x": 1}}))
    assert recorder.last.json["code"] == "invalid_params"


async def test_get_config_redacts_secrets(
    builtin: CommandDispatcher, recorder: Recorder, topics: Topics
) -> None:
    await builtin.handle(cmd(topics, "get_config", {}))
    reply = recorder.last
    cfg = reply.json["data"]["config"]
    for secret in (b"hunter2", b"mqtt-pass", b"cmd-secret"):
        assert secret not in reply.payload
    assert cfg["cameras"][0]["source"] == "rtsp://admin:**********@10.0.0.5:554/live"
    assert cfg["cameras"][1]["source"] == "video.mp4"
    assert cfg["mqtt"]["host"] == "broker"
    assert cfg["mqtt"]["password"] == "**********"


async def test_set_camera_goes_to_runtime_state_not_config(
    builtin: CommandDispatcher,
    recorder: Recorder,
    topics: Topics,
    control: FakeControl,
    config: NodeConfig,
) -> None:
    before = config.model_dump()
    params = {"target": "camera", "name": "street", "enabled": False}
    await builtin.handle(cmd(topics, "set", {"params": params}))
    assert recorder.last.json["ok"] is True
    assert recorder.last.json["data"] == params
    assert control.calls == [("camera", "street", False)]
    assert config.model_dump() == before


async def test_set_analytic_on_one_camera(
    builtin: CommandDispatcher, recorder: Recorder, topics: Topics, control: FakeControl
) -> None:
    params = {"target": "analytic", "name": "noop", "enabled": True, "camera": "street"}
    await builtin.handle(cmd(topics, "set", {"params": params}))
    assert recorder.last.json["ok"] is True
    assert control.calls == [("analytic", "noop", True, "street")]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"target": "camera", "name": "attic", "enabled": True}, "not_found"),
        ({"target": "analytic", "name": "unicorn", "enabled": True}, "not_found"),
        ({"target": "analytic", "name": "noop", "enabled": True, "camera": "attic"}, "not_found"),
        ({"target": "analytic", "name": "noop", "enabled": True, "camera": "gate"}, "not_found"),
        ({"target": "lamp", "name": "street", "enabled": True}, "invalid_params"),
        ({"target": "camera", "name": "street", "enabled": "maybe"}, "invalid_params"),
        ({"target": "camera", "name": "street"}, "invalid_params"),
    ],
)
async def test_set_refusals(
    builtin: CommandDispatcher,
    recorder: Recorder,
    topics: Topics,
    control: FakeControl,
    params: dict[str, object],
    code: str,
) -> None:
    await builtin.handle(cmd(topics, "set", {"params": params}))
    assert recorder.last.json["code"] == code
    assert control.calls == []


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_snapshot_publishes_jpeg_and_replies_with_size(
    builtin: CommandDispatcher,
    recorder: Recorder,
    topics: Topics,
    control: FakeControl,
    asynchronous: bool,
) -> None:
    control.asynchronous = asynchronous
    await builtin.handle(cmd(topics, "snapshot", {"params": {"camera": "gate"}}))
    image, reply = recorder.sent
    assert (image.topic, image.payload) == (topics.camera_snapshot("gate"), JPEG)
    assert reply.json["data"] == {
        "camera": "gate", "topic": topics.camera_snapshot("gate"), "bytes": len(JPEG)
    }


async def test_snapshot_refusals(
    builtin: CommandDispatcher, recorder: Recorder, topics: Topics, control: FakeControl
) -> None:
    await builtin.handle(cmd(topics, "snapshot", {"params": {"camera": "attic"}}))
    assert recorder.last.json["code"] == "not_found"
    control.frame = b""
    await builtin.handle(cmd(topics, "snapshot", {"params": {"camera": "gate"}}))
    assert recorder.last.json["code"] == "unavailable"
    assert all(p.topic.endswith("/reply/snapshot") for p in recorder.sent)
