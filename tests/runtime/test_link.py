"""MqttLink against real brokers: will, retained state, re-subscribe, acks, v5 and fallback."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from node.broker import BrokerStartError, EmbeddedBroker
from node.mqtt.link import BrokerAddress, LinkDownError, MqttLink
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.config.broker import EmbeddedBrokerConfig
from schemas.config.mqtt import MqttConfig
from tests.conftest import MosquittoBroker, free_port
from tests.runtime.conftest import poll_until

pytestmark = pytest.mark.broker

TOPICS = Topics("citywatch", "n1")
FAST = MqttConfig(keepalive=5, reconnect_initial_s=0.1, reconnect_max_s=0.5)


@pytest.fixture
async def link(mosquitto: MosquittoBroker) -> AsyncIterator[MqttLink]:
    lk = MqttLink(FAST, TOPICS, BrokerAddress(mosquitto.host, mosquitto.port))
    await lk.start()
    await asyncio.wait_for(lk.connected.wait(), 10)
    yield lk
    await lk.stop()


async def test_online_state_and_subscriptions_survive_a_broker_restart(
    mosquitto: MosquittoBroker, collector_factory: Any
) -> None:
    lk = MqttLink(FAST, TOPICS, BrokerAddress(mosquitto.host, mosquitto.port))
    got: list[Message] = []
    await lk.set_state("state/mode", "A")  # before connecting: published on connect
    await lk.subscribe("cmd/+", _append_to(got))
    await lk.start()
    await asyncio.wait_for(lk.connected.wait(), 10)
    col = await collector_factory(mosquitto.host, mosquitto.port, [TOPICS.sub("#")])
    await col.wait_for(lambda: col.on("state/mode") and col.on("availability"))
    assert col.on("availability")[-1].payload == b"online"

    mosquitto.stop()  # no persistence: retained messages and subscriptions are gone
    await asyncio.wait_for(poll_until(lambda: not lk.connected.is_set()), 15)
    col.messages.clear()
    mosquitto.start()
    await asyncio.wait_for(lk.connected.wait(), 15)
    assert lk.counters.reconnects == 1
    await col.wait_for(lambda: bool(col.on("state/mode")))
    assert col.on("state/mode")[-1].payload == b"A"
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as c:
        await c.publish(TOPICS.command("ping"), b"{}", qos=1)
    await asyncio.wait_for(poll_until(lambda: bool(got)), 10)
    assert got[0].topic == TOPICS.command("ping")
    await lk.stop()
    await col.wait_for(lambda: col.on("availability")[-1].payload == b"stopped")


async def test_publish_acked_waits_for_the_puback(
    mosquitto: MosquittoBroker, link: MqttLink
) -> None:
    assert mosquitto.proc is not None
    os.kill(mosquitto.proc.pid, signal.SIGSTOP)  # TCP stays up, the broker answers nothing
    try:
        task = asyncio.create_task(link.publish_acked(TOPICS.sub("x"), b"1", qos=1))
        done, _ = await asyncio.wait({task}, timeout=1.0)
        assert not done, "publish returned before the broker acknowledged"
    finally:
        os.kill(mosquitto.proc.pid, signal.SIGCONT)
    await asyncio.wait_for(task, 10)


async def test_best_effort_publish_reports_offline(
    mosquitto: MosquittoBroker, link: MqttLink
) -> None:
    assert await link.publish("stats", "{}") is True
    mosquitto.stop()
    await asyncio.wait_for(poll_until(lambda: not link.connected.is_set()), 15)
    assert await link.publish("stats", "{}") is False
    with pytest.raises(LinkDownError):
        await link.publish_acked(TOPICS.sub("x"), b"1")


async def test_v5_response_topic_and_correlation_data(
    mosquitto: MosquittoBroker, link: MqttLink
) -> None:
    assert link.protocol == "5"

    async def echo(msg: Message) -> None:
        assert msg.response_topic is not None
        await link.publish(
            msg.response_topic,
            b"pong",
            qos=1,
            correlation_data=msg.correlation_data,
            absolute=True,
        )

    await link.subscribe(TOPICS.command("ping"), echo)
    async with aiomqtt.Client(
        mosquitto.host, mosquitto.port, protocol=aiomqtt.ProtocolVersion.V5
    ) as c:
        await c.subscribe("answers/me", qos=1)
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "answers/me"
        props.CorrelationData = b"req-7"
        await c.publish(TOPICS.command("ping"), b"{}", qos=1, properties=props)
        async with asyncio.timeout(10):
            async for m in c.messages:
                assert m.payload == b"pong"
                assert m.properties is not None
                assert m.properties.CorrelationData == b"req-7"
                break


async def test_embedded_broker_falls_back_to_mqtt_311() -> None:
    port = free_port()
    async with EmbeddedBroker(EmbeddedBrokerConfig(port=port)) as broker:
        lk = MqttLink(FAST, TOPICS, BrokerAddress(broker.host, broker.port), protocol="auto")
        await lk.start()
        try:
            await asyncio.wait_for(lk.connected.wait(), 15)
            assert lk.protocol == "3.1.1"
            assert await lk.publish("stats", "{}", qos=1) is True
        finally:
            await lk.stop()


async def test_auto_v5_probe_does_not_hold_the_connection_for_a_keepalive() -> None:
    """amqtt never answers a v5 CONNECT with a will: with the default keepalive (30 s, the
    client's timeout) the link must still reach 3.1.1 well before that."""
    port = free_port()
    cfg = MqttConfig(keepalive=30, reconnect_initial_s=0.1, reconnect_max_s=0.5)
    async with EmbeddedBroker(EmbeddedBrokerConfig(port=port)) as broker:
        lk = MqttLink(cfg, TOPICS, BrokerAddress(broker.host, broker.port), protocol="auto")
        await lk.start()
        try:
            await asyncio.wait_for(lk.connected.wait(), 15)  # < 30: the probe gave up early
            assert lk.protocol == "3.1.1"
        finally:
            await lk.stop()


async def test_embedded_broker_port_taken_is_a_clear_error(mosquitto: MosquittoBroker) -> None:
    broker = EmbeddedBroker(EmbeddedBrokerConfig(port=mosquitto.port))
    with pytest.raises(BrokerStartError, match=r"already in use.*--mqtt-port"):
        await broker.start()


def _append_to(out: list[Message]) -> Any:
    async def handler(msg: Message) -> None:
        out.append(msg)

    return handler



async def test_state_and_subscriptions_added_while_connecting_are_not_lost(
    mosquitto: MosquittoBroker, collector_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other start-up tasks call set_state()/subscribe() while the link is (re)publishing its
    state on connect; they must neither crash the link nor be skipped."""
    lk = MqttLink(FAST, TOPICS, BrokerAddress(mosquitto.host, mosquitto.port))
    got: list[Message] = []
    await lk.set_state("state/a", "1")
    real_publish = aiomqtt.Client.publish
    injected = False

    async def publish(self: aiomqtt.Client, topic: str, *args: Any, **kw: Any) -> None:
        nonlocal injected
        if not injected and str(topic).endswith("state/a"):
            injected = True  # arrives in the middle of _on_connect, `connected` not yet set
            await lk.set_state("state/b", "2")
            await lk.subscribe("cmd/+", _append_to(got))
        await real_publish(self, topic, *args, **kw)

    monkeypatch.setattr(aiomqtt.Client, "publish", publish)
    col = await collector_factory(mosquitto.host, mosquitto.port, [TOPICS.sub("state/#")])
    await lk.start()
    await asyncio.wait_for(lk.connected.wait(), 10)
    await col.wait_for(lambda: bool(col.on("state/b")))
    assert col.on("state/b")[-1].payload == b"2"
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as c:
        await c.publish(TOPICS.command("ping"), b"{}", qos=1)
    await asyncio.wait_for(poll_until(lambda: bool(got)), 10)
    await lk.stop()
