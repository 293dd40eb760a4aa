"""Runtime test helpers: a reconnecting MQTT collector and node configs for real brokers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.conftest import MosquittoBroker, MosquittoFactory


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Collector:
    """Subscribes to ``filters`` and records every message; reconnects after broker outages.

    ``persistent=True`` uses a fixed client id and a persistent session (QoS 1), so a broker with
    persistence queues what is published while the collector is away (a real consumer's setup).
    """

    host: str
    port: int
    filters: list[str]
    persistent: bool = False
    v311: bool = False
    client_id: str = field(default_factory=lambda: f"collector-{uuid.uuid4().hex[:8]}")
    messages: list[Received] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        proto = aiomqtt.ProtocolVersion.V311 if self.v311 else aiomqtt.ProtocolVersion.V5
        while True:
            try:
                kw: dict[str, Any] = {}
                if self.persistent and self.v311:
                    kw["clean_session"] = False
                elif self.persistent:
                    kw["clean_start"] = False
                    kw["properties"] = _session_expiry()
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=self.client_id,
                    protocol=proto,
                    keepalive=5,
                    **kw,
                ) as client:
                    for f in self.filters:
                        await client.subscribe(f, qos=1)
                    self.connected.set()
                    async for m in client.messages:
                        payload = m.payload if isinstance(m.payload, bytes) else b""
                        self.messages.append(Received(m.topic.value, payload, m.retain))
                        self._changed.set()
            except aiomqtt.MqttError:
                self.connected.clear()
                await asyncio.sleep(0.2)

    def on(self, suffix: str) -> list[Received]:
        return [m for m in self.messages if m.topic.endswith(suffix)]

    async def wait_for(self, pred: Callable[[], bool], timeout: float = 20.0) -> None:
        async def loop() -> None:
            while not pred():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)


def _session_expiry() -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    return props


@pytest.fixture
async def collector_factory() -> AsyncIterator[Callable[..., Any]]:
    made: list[Collector] = []

    async def make(host: str, port: int, filters: list[str], **kw: Any) -> Collector:
        c = Collector(host, port, filters, **kw)
        await c.start()
        made.append(c)
        return c

    yield make
    for c in made:
        await c.stop()


@pytest.fixture
def persistent_mosquitto(mosquitto_factory: MosquittoFactory, tmp_path: Path) -> MosquittoBroker:
    """Mosquitto that keeps sessions and queued QoS 1 messages across a restart."""
    d = tmp_path / "mosq-db"
    d.mkdir()
    d.chmod(0o777)  # mosquitto drops root privileges before writing its database
    return mosquitto_factory(
        extra=f"persistence true\npersistence_location {d}/\nautosave_interval 0\n"
    )


def node_yaml(
    path: Path,
    *,
    port: int,
    data_dir: Path,
    host: str | None = "127.0.0.1",
    source: str | None = None,
    every_n: int = 2,
    keepalive: int = 5,
    node_id: str = "t1",
    stats_interval_s: float = 1.0,
) -> Path:
    cfg: dict[str, Any] = {
        "node_id": node_id,
        "data_dir": str(data_dir),
        "stats_interval_s": stats_interval_s,
        "mqtt": {"port": port, "keepalive": keepalive, "reconnect_initial_s": 0.2,
                 "reconnect_max_s": 1.0},
        "broker": {"port": port},
        "homeassistant": {"enabled": False},
        "snapshots": {"enabled": False},
        "analytics": {"synthetic": {"enabled": True, "fps": 25, "every_n_frames": every_n,
                                    "end_after_s": 0.3}},
    }
    if host is not None:
        cfg["mqtt"]["host"] = host
    if source is not None:
        cfg["cameras"] = [{"name": "cam1", "source": source, "loop": True,
                           "motion": {"enabled": False}}]
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def citywatch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "node", *args]


def node_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CITYWATCH__MQTT__HOST", None)
    return env


async def poll_until(pred: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll state another task changes (link flags, counters) that has no event of its own."""

    async def loop() -> None:
        while not pred():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), timeout)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; killed at the end if still running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()
