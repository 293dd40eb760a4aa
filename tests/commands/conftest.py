"""Helpers for command-channel tests: a recording reply sink and a ready dispatcher."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from node.clock import ManualClock
from node.commands import CommandDispatcher
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.config.commands import CommandsConfig

NODE = "node-1"
SECRET = "s3cret-key"


@dataclass
class Published:
    topic: str
    payload: bytes
    correlation_data: bytes | None

    @property
    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.payload)
        return out


@dataclass
class Recorder:
    sent: list[Published] = field(default_factory=list)

    async def __call__(self, topic: str, payload: bytes, correlation_data: bytes | None) -> None:
        self.sent.append(Published(topic, payload, correlation_data))

    @property
    def last(self) -> Published:
        assert self.sent, "nothing was published"
        return self.sent[-1]


@pytest.fixture
def topics() -> Topics:
    return Topics("citywatch", NODE)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


DispatcherFactory = Callable[..., CommandDispatcher]


@pytest.fixture
def make_dispatcher(
    topics: Topics, clock: ManualClock, recorder: Recorder
) -> DispatcherFactory:
    def make(**config: Any) -> CommandDispatcher:
        if config.get("require_signature"):
            config.setdefault("secret", SecretStr(SECRET))
        return CommandDispatcher(NODE, topics, CommandsConfig(**config), recorder, clock)

    return make


def cmd(topics: Topics, name: str, payload: bytes | dict[str, Any] | Any, **kw: Any) -> Message:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic=topics.command(name), payload=raw, qos=1, **kw)
