"""The production ACL (`broker/acl`) on a real Mosquitto, with users made by the real script.

Denied publishes are dropped silently by Mosquitto (MQTT 3.1.1 has no negative PUBACK), so each
test ends with an allowed *sentinel* message sent after the forbidden ones: once the sentinel
arrives, anything the broker had let through would already have been delivered before it.
"""

from __future__ import annotations

import aiomqtt
import pytest

from tests.broker.conftest import STRANGER, SecuredBroker
from tests.broker.mqtt_helpers import client

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]

OPERATOR = "citywatch-operator"


async def test_anonymous_and_wrong_password_are_refused(secured_broker: SecuredBroker) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with client(secured_broker.port):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with client(secured_broker.port, "n1", "not-the-password"):
            pass
    async with client(secured_broker.port, "n1", secured_broker.passwords["n1"]):
        pass


async def test_only_operators_can_command_a_node(secured_broker: SecuredBroker) -> None:
    pw = secured_broker.passwords
    port = secured_broker.port
    async with client(port, "n1", pw["n1"]) as (node, inbox):
        await node.subscribe("citywatch/n1/cmd/#", qos=1)
        for intruder in ("n2", STRANGER):
            async with client(port, intruder, pw[intruder]) as (c, _):
                for qos in (0, 1):
                    await c.publish("citywatch/n1/cmd/set", b'{"params": {}}', qos=qos)
                    await c.publish("citywatch/n1/cmd/ping", b"{}", qos=qos, retain=True)
        async with client(port, "homeassistant", pw["homeassistant"]) as (ha, _):
            await ha.publish("citywatch/n1/cmd/set", b"from-ha", qos=1)
        async with client(port, OPERATOR, pw[OPERATOR]) as (op, _):
            await op.publish("citywatch/n1/cmd/ping", b"sentinel", qos=1)
        await inbox.wait_for(lambda: any(m.payload == b"sentinel" for m in inbox.messages))
    assert [m.payload for m in inbox.messages] == [b"from-ha", b"sentinel"]


async def test_node_publishes_only_under_its_prefix(secured_broker: SecuredBroker) -> None:
    pw = secured_broker.passwords
    port = secured_broker.port
    forbidden = [
        "citywatch/n2/events/fire",  # impersonating another node
        "citywatch/n2/cmd/ping",  # commanding another node
        "citywatch/n2/availability",
        "elsewhere/topic",
        "homeassistant/device/n2/config",  # another node's discovery
        "homeassistant/sensor/x/config",
        "homeassistant/status",  # faking HA's birth message
    ]
    allowed = ["homeassistant/device/n1/config", "citywatch/n1/events/fire"]
    async with client(port, OPERATOR, pw[OPERATOR]) as (op, seen):
        await op.subscribe("#", qos=1)
        async with client(port, "n1", pw["n1"]) as (node, _):
            for topic in forbidden:
                await node.publish(topic, b"x", qos=1)
            for topic in allowed:  # the last one is the sentinel
                await node.publish(topic, b"ok", qos=1)
        await seen.wait_for(lambda: bool(seen.on(allowed[-1])))
    assert sorted({m.topic for m in seen.messages}) == sorted(allowed)


async def test_node_reads_only_its_commands_and_ha_status(secured_broker: SecuredBroker) -> None:
    pw = secured_broker.passwords
    port = secured_broker.port
    async with client(port, "n1", pw["n1"]) as (node, inbox):
        for f in (
            "#",
            "citywatch/+/cmd/#",
            "citywatch/n2/#",
            "homeassistant/status",
            "citywatch/n1/cmd/#",
        ):
            await node.subscribe(f, qos=1)
        async with client(port, "n2", pw["n2"]) as (n2, _):
            await n2.publish("citywatch/n2/events/fire", b"n2-event", qos=1)
        async with client(port, "homeassistant", pw["homeassistant"]) as (ha, _):
            await ha.publish("citywatch/n2/cmd/ping", b"for-n2", qos=1)
            await ha.publish("homeassistant/status", b"online", qos=1)
            await ha.publish("citywatch/n1/cmd/ping", b"sentinel", qos=1)
        await inbox.wait_for(lambda: any(m.payload == b"sentinel" for m in inbox.messages))
    assert {m.topic for m in inbox.messages} == {"homeassistant/status", "citywatch/n1/cmd/ping"}
    assert b"n2-event" not in {m.payload for m in inbox.messages}
