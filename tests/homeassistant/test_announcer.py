"""Announcer: discovery re-sent after HA's birth message, with an injected (fake) delay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import pytest

from node.homeassistant import Announcer, DiscoverySpec, discovery_payload, discovery_topic
from schemas.config import NodeConfig
from tests.broker.conftest import SecuredBroker
from tests.broker.mqtt_helpers import client


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, int, bool]] = []

    async def __call__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.calls.append((topic, payload, qos, retain))


class FakeDelay:
    """Records requested delays; each sleep waits until the test releases it."""

    def __init__(self) -> None:
        self.requested: list[float] = []
        self.release = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.requested.append(seconds)
        await self.release.wait()


async def test_birth_message_reannounces_after_the_drawn_delay() -> None:
    pub, delay = Recorder(), FakeDelay()
    draws: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        draws.append((a, b))
        return 1.25

    ann = Announcer(pub, "ha/device/n1/config", b"{}", 3.0, uniform=uniform, sleep=delay.sleep)
    await ann.on_ha_status(b"offline")
    await ann.on_ha_status(b"online")
    await asyncio.sleep(0)  # let the scheduled task reach its sleep
    assert draws == [(0.0, 3.0)] and delay.requested == [1.25]
    assert pub.calls == []  # not before the delay has passed
    delay.release.set()
    await ann.wait_pending()
    assert pub.calls == [("ha/device/n1/config", b"{}", 1, True)]
    assert ann.announcements == 1


async def test_repeated_births_while_waiting_give_one_announcement() -> None:
    pub, delay = Recorder(), FakeDelay()
    ann = Announcer(pub, "t", b"p", 3.0, uniform=lambda a, b: 0.5, sleep=delay.sleep)
    for _ in range(3):
        await ann.on_ha_status(b"online")
        await asyncio.sleep(0)
    delay.release.set()
    await ann.wait_pending()
    await asyncio.sleep(0)
    assert len(pub.calls) == 1 and len(delay.requested) == 3


async def test_failed_publish_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        raise ConnectionError("broker gone")

    ann = Announcer(broken, "t", b"p", 0.0, sleep=lambda s: asyncio.sleep(0))
    with caplog.at_level(logging.ERROR):
        await ann.on_ha_status(b"online")
        await ann.wait_pending()
    assert "re-announce failed" in caplog.text


async def test_close_cancels_a_pending_announcement() -> None:
    pub, delay = Recorder(), FakeDelay()
    ann = Announcer(pub, "t", b"p", 3.0, sleep=delay.sleep)
    await ann.on_ha_status(b"online")
    await ann.close()
    assert pub.calls == []


@pytest.mark.broker
@pytest.mark.timeout(60)
async def test_ha_birth_over_a_real_broker_resends_discovery(
    secured_broker: SecuredBroker,
) -> None:
    """Node user n1 and the HA user on Mosquitto with the production ACL."""
    pw, port = secured_broker.passwords, secured_broker.port
    cfg = NodeConfig.model_validate(
        {"node_id": "n1", "cameras": [{"name": "front", "source": "x.mp4"}]}
    )
    topic = discovery_topic(cfg.homeassistant.discovery_prefix, cfg.node_id)
    payload = discovery_payload(DiscoverySpec.from_config(cfg, analytics=["fire"]))
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    async with client(port, "n1", pw["n1"]) as (node, node_inbox):

        async def publish(t: str, p: bytes, qos: int, retain: bool) -> None:
            await node.publish(t, p, qos=qos, retain=retain)

        ann = Announcer(
            publish, topic, payload, cfg.homeassistant.announce_delay_max_s, sleep=fake_sleep
        )
        await node.subscribe("homeassistant/status", qos=1)
        await ann.announce()  # at start-up

        async def feed() -> None:  # what the node app's subscription handler does
            seen = 0
            while True:
                await node_inbox.wait_for(lambda n=seen: len(node_inbox.messages) > n, timeout=30)
                for m in node_inbox.messages[seen:]:
                    await ann.on_ha_status(m.payload)
                seen = len(node_inbox.messages)

        feeder = asyncio.create_task(feed())
        try:
            async with client(port, "homeassistant", pw["homeassistant"]) as (ha, inbox):
                await ha.subscribe("homeassistant/device/+/config", qos=1)
                await inbox.wait_for(lambda: len(inbox.on(topic)) == 1)
                assert inbox.on(topic)[0].retain  # the start-up copy, kept by the broker
                await ha.publish("homeassistant/status", b"offline", qos=1)
                await ha.publish("homeassistant/status", b"online", qos=1)
                await inbox.wait_for(lambda: len(inbox.on(topic)) == 2)
                await ann.wait_pending()
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            await ann.close()
    resent = inbox.on(topic)[1]
    assert not resent.retain  # a live delivery, i.e. really re-sent
    assert json.loads(resent.payload) == json.loads(payload)
    assert ann.announcements == 2 and len(delays) == 1
    assert 0.0 <= delays[0] <= cfg.homeassistant.announce_delay_max_s
