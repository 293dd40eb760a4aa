"""The node's command channel on its MQTT link: a ``CommandDispatcher`` subscribed on
``cmd/+`` with the built-in commands registered; replies go out on the topic the dispatcher
chose, as given (a v5 response topic may be anywhere, so it is never resolved)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from node.clock import Clock
from node.commands.builtin import RuntimeControl, register_builtin
from node.commands.dispatcher import CommandDispatcher
from node.mqtt.message import Message
from node.mqtt.topics import Topics
from schemas.config import NodeConfig


class CommandLink(Protocol):
    """What the channel needs of ``MqttLink``."""

    async def publish(
        self,
        suffix_or_topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        *,
        correlation_data: bytes | None = None,
        absolute: bool = False,
    ) -> bool: ...

    async def subscribe(
        self, topic_filter: str, handler: Callable[[Message], Awaitable[None]]
    ) -> None: ...


async def open_commands(
    link: CommandLink, config: NodeConfig, topics: Topics, clock: Clock, control: RuntimeControl
) -> CommandDispatcher | None:
    """The dispatcher, subscribed; None when ``commands.enabled`` is off."""
    if not config.commands.enabled:
        return None

    async def publish_reply(topic: str, payload: bytes, correlation: bytes | None) -> None:
        await link.publish(topic, payload, qos=1, correlation_data=correlation, absolute=True)

    dispatcher = CommandDispatcher(config.node_id, topics, config.commands, publish_reply, clock)
    register_builtin(dispatcher, control, config, clock)
    await link.subscribe(topics.command_filter, dispatcher.handle)
    return dispatcher
