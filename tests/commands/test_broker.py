"""The dispatcher behind a real Mosquitto: reply topics, v5 response topics, 1000+ payloads.

The node's MqttLink is tested on its own; here a minimal aiomqtt loop stands in for it so the
command channel is checked against real MQTT v5 properties.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import SecretStr

from node.cli.main import main as cli_main
from node.clock import SystemClock
from node.commands import CommandDispatcher, register_builtin, signed_envelope
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.commands import Reply
from schemas.config.commands import CommandsConfig
from tests.commands.conftest import SECRET
from tests.commands.test_builtin import FakeControl, make_config
from tests.conftest import MosquittoBroker

pytestmark = pytest.mark.broker
N_PAYLOADS = 1000
TIMEOUT = 30.0


def _props(response_topic: str | None = None, corr: bytes | None = None) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    if response_topic:
        props.ResponseTopic = response_topic
    if corr:
        props.CorrelationData = corr
    return props


def _to_message(msg: aiomqtt.Message) -> Message:
    props = msg.properties
    corr = getattr(props, "CorrelationData", None)
    payload = msg.payload if isinstance(msg.payload, bytes | bytearray) else b""
    return Message(
        topic=msg.topic.value,
        payload=bytes(payload),
        qos=msg.qos,
        retain=msg.retain,
        response_topic=getattr(props, "ResponseTopic", None),
        correlation_data=bytes(corr) if corr is not None else None,
    )


def _client(broker: MosquittoBroker) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5,
        identifier=f"test-{uuid.uuid4().hex[:8]}",
    )


class ClientSink:
    """``publish_reply`` for the dispatcher; bound to a client once it is connected."""

    client: aiomqtt.Client | None = None

    async def __call__(self, topic: str, payload: bytes, corr: bytes | None) -> None:
        assert self.client is not None, "node side not connected"
        await self.client.publish(topic, payload, qos=1, properties=_props(corr=corr))


@contextlib.asynccontextmanager
async def node_side(
    broker: MosquittoBroker, dispatchers: dict[str, tuple[CommandDispatcher, ClientSink]]
) -> AsyncIterator[aiomqtt.Client]:
    """Subscribe each dispatcher to its cmd/+ and feed it messages, replying through MQTT."""
    async with _client(broker) as client:
        for d, sink in dispatchers.values():
            sink.client = client
            await client.subscribe(d.topics.command_filter, qos=1)

        async def loop() -> None:
            async for msg in client.messages:
                node_id = msg.topic.value.split("/")[1]
                await dispatchers[node_id][0].handle(_to_message(msg))

        task = asyncio.create_task(loop())
        try:
            yield client
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _dispatcher(node_id: str, signed: bool) -> tuple[CommandDispatcher, ClientSink]:
    cfg = CommandsConfig(
        require_signature=signed,
        secret=SecretStr(SECRET) if signed else None,
        max_payload_bytes=4096,
    )
    sink = ClientSink()
    d = CommandDispatcher(node_id, Topics("citywatch", node_id), cfg, sink, SystemClock())
    register_builtin(d, FakeControl(), make_config(), SystemClock())
    return d, sink


def _junk(rng: random.Random, i: int) -> bytes:
    kind = i % 6
    if kind == 0:
        return rng.randbytes(rng.randint(0, 64))
    if kind == 1:
        return json.dumps([rng.random() for _ in range(rng.randint(0, 5))]).encode()
    if kind == 2:
        env = {"request_id": f"r{i}", rng.choice(["params", "ts", "sig", "bogus"]): rng.random()}
        return json.dumps(env).encode()
    if kind == 3:
        return json.dumps({"request_id": f"r{i}", "params": {"camera": rng.random()}}).encode()
    if kind == 4:
        return b'{"request_id": "r' + str(i).encode() + b'", "params": {'  # truncated
    return b"x" * 5000  # over the limit


async def _collect(messages: Any, n: int, into: list[aiomqtt.Message]) -> None:
    async for msg in messages:
        into.append(msg)
        if len(into) >= n:
            return


async def test_replies_on_reply_topic_and_response_topic(mosquitto: MosquittoBroker) -> None:
    d, sink = _dispatcher("node-a", signed=False)
    topics = d.topics
    inbox = f"clients/{uuid.uuid4().hex}/inbox"
    async with node_side(mosquitto, {"node-a": (d, sink)}), _client(mosquitto) as user:
        await user.subscribe(topics.sub("reply/#"), qos=1)
        await user.subscribe(inbox, qos=1)
        await user.publish(topics.command("ping"), b'{"request_id": "plain"}', qos=1)
        await user.publish(
            topics.command("ping"), b'{"request_id": "v5"}', qos=1,
            properties=_props(response_topic=inbox, corr=b"\x00corr-7"),
        )
        got: list[aiomqtt.Message] = []
        await asyncio.wait_for(_collect(user.messages, 2, got), TIMEOUT)
    by_topic = {m.topic.value: m for m in got}
    plain = Reply.model_validate_json(by_topic[topics.reply("ping")].payload)
    assert (plain.ok, plain.request_id, plain.data and plain.data["node_id"]) == (
        True, "plain", "node-a"
    )
    v5 = by_topic[inbox]
    assert Reply.model_validate_json(v5.payload).request_id == "v5"
    assert bytes(v5.properties.CorrelationData) == b"\x00corr-7"


async def test_thousand_malformed_payloads_then_ping(mosquitto: MosquittoBroker) -> None:
    d, sink = _dispatcher("node-a", signed=False)
    topics = d.topics
    rng = random.Random(2024)
    names = ["ping", "set", "snapshot", "get_config", "nope"]
    async with node_side(mosquitto, {"node-a": (d, sink)}), _client(mosquitto) as user:
        await user.subscribe(topics.sub("reply/#"), qos=1)
        got: list[aiomqtt.Message] = []
        collector = asyncio.create_task(_collect(user.messages, N_PAYLOADS, got))
        for i in range(N_PAYLOADS):
            await user.publish(topics.command(names[i % len(names)]), _junk(rng, i), qos=1)
        await asyncio.wait_for(collector, TIMEOUT)
        replies = [Reply.model_validate_json(m.payload) for m in got]
        assert len(replies) >= N_PAYLOADS
        assert all(r.ok == (r.code is None) for r in replies)
        # only envelopes that happen to be valid (e.g. an unsigned `ts` on ping) pass
        assert sum(not r.ok for r in replies) >= 0.9 * N_PAYLOADS
        assert {r.command for r in replies if r.ok} <= {"ping", "get_config"}
        codes = {r.code.value for r in replies if r.code}
        assert {"malformed_json", "not_an_object", "invalid_envelope", "invalid_params",
                "unknown_command", "payload_too_large"} <= codes
        # still serving
        await user.publish(topics.command("ping"), b'{"request_id": "after"}', qos=1)
        last: list[aiomqtt.Message] = []
        await asyncio.wait_for(_collect(user.messages, 1, last), TIMEOUT)
    after = Reply.model_validate_json(last[0].payload)
    assert (after.ok, after.request_id) == (True, "after")
    assert sum(d.stats().values()) == N_PAYLOADS + 1


async def test_signed_over_broker_and_cli(
    mosquitto: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    d, sink = _dispatcher("node-s", signed=True)
    topics = d.topics
    monkeypatch.setenv("TEST_CMD_SECRET", SECRET)
    cli = ["cmd", "ping", "--node-id", "node-s", "--host", mosquitto.host,
           "--port", str(mosquitto.port), "--secret-env", "TEST_CMD_SECRET", "--timeout", "20"]
    async with node_side(mosquitto, {"node-s": (d, sink)}), _client(mosquitto) as user:
        # the CLI signs, sends and prints the reply (run in a thread: it has its own loop)
        assert await asyncio.to_thread(cli_main, [*cli, "--sign"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["ok"] is True and printed["data"]["node_id"] == "node-s"
        # unsigned: refused with missing_signature, exit code 1
        assert await asyncio.to_thread(cli_main, cli) == 1
        assert json.loads(capsys.readouterr().out)["code"] == "missing_signature"

        await user.subscribe(topics.reply("ping"), qos=1)
        env = signed_envelope(SECRET, "ping", {}, ts=SystemClock().time(), request_id="once")
        for _ in range(2):  # the second copy is a replay
            await user.publish(topics.command("ping"), json.dumps(env).encode(), qos=1)
        got: list[aiomqtt.Message] = []
        await asyncio.wait_for(_collect(user.messages, 2, got), TIMEOUT)
    first, second = (Reply.model_validate_json(m.payload) for m in got)
    assert first.ok is True
    assert (second.ok, second.code and second.code.value) == (False, "replay")
