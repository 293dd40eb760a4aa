"""The bridge between the node and Home Assistant (and other consumers of the same topics).

``HomeAssistantBridge.start`` publishes, as retained state the link re-publishes on every
connect:

* with ``homeassistant.enabled``: the discovery message (``discovery.py``), re-announced after
  every HA birth message (``announcer.py``), and the presence states (``presence.py``);
* with the movement analytic enabled: the movement counters (``counters.py``), zeros at start.

Its ``observers`` (presence, counters) then follow the event stream: the sink calls each one
after an event is stored in the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from node.homeassistant.announcer import Announcer
from node.homeassistant.counters import MovementCounter
from node.homeassistant.discovery import DiscoverySpec, discovery_payload, discovery_topic
from node.homeassistant.presence import PresenceTracker
from node.mqtt.message import Message
from node.mqtt.topics import MOVEMENT_COUNTS_SUFFIX, ha_status_topic
from schemas.config import NodeConfig
from schemas.events import Event

SetState = Callable[[str, str], Awaitable[None]]


class BridgeLink(Protocol):
    """What the bridge needs of ``MqttLink``."""

    async def set_state(self, suffix_or_topic: str, payload: bytes | str) -> None: ...

    async def publish(
        self, suffix_or_topic: str, payload: bytes | str, qos: int = 0, retain: bool = False
    ) -> bool: ...

    async def subscribe(
        self, topic_filter: str, handler: Callable[[Message], Awaitable[None]]
    ) -> None: ...


class EventObserver(Protocol):
    async def observe(self, event: Event) -> None: ...


class PresencePublisher:
    """Presence changes -> retained ``state/presence/<kind>`` (an event observer)."""

    def __init__(self, set_state: SetState, tracker: PresenceTracker | None = None) -> None:
        self._set_state = set_state
        self.tracker = tracker or PresenceTracker()

    async def publish_initial(self) -> None:
        for suffix, state in self.tracker.initial_states().items():
            await self._set_state(suffix, state)

    async def observe(self, event: Event) -> None:
        for suffix, state in self.tracker.observe(event).items():
            await self._set_state(suffix, state)


class MovementCountsPublisher:
    """Counted movement events -> retained ``state/movement/counts`` (an event observer)."""

    def __init__(self, set_state: SetState, counter: MovementCounter) -> None:
        self._set_state = set_state
        self.counter = counter

    async def publish_initial(self) -> None:
        await self._set_state(MOVEMENT_COUNTS_SUFFIX, self.counter.payload())

    async def observe(self, event: Event) -> None:
        if self.counter.observe(event):
            await self._set_state(MOVEMENT_COUNTS_SUFFIX, self.counter.payload())


class HomeAssistantBridge:
    def __init__(self, announcer: Announcer | None, observers: Sequence[EventObserver]) -> None:
        self.announcer = announcer
        self.observers = list(observers)

    @classmethod
    async def start(
        cls, link: BridgeLink, config: NodeConfig, analytics: Sequence[str]
    ) -> HomeAssistantBridge:
        """Publish what the node's config asks for (see the module docstring); ``analytics``
        are the enabled ones, announced whether or not they start."""
        announcer: Announcer | None = None
        observers: list[EventObserver] = []
        ha = config.homeassistant
        if ha.enabled:
            announcer = await _announce(link, config, analytics)
            presence = PresencePublisher(link.set_state)
            await presence.publish_initial()
            observers.append(presence)
        if "movement" in analytics:
            counts = MovementCountsPublisher(
                link.set_state, MovementCounter(list(config.analytics.movement.actions))
            )
            await counts.publish_initial()
            observers.append(counts)
        return cls(announcer, observers)

    async def close(self) -> None:
        if self.announcer is not None:
            await self.announcer.close()


async def _announce(link: BridgeLink, config: NodeConfig, analytics: Sequence[str]) -> Announcer:
    ha = config.homeassistant

    async def publish(topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        return await link.publish(topic, payload, qos, retain)

    payload = discovery_payload(DiscoverySpec.from_config(config, analytics=analytics))
    topic = discovery_topic(ha.discovery_prefix, config.node_id)
    announcer = Announcer(publish, topic, payload, ha.announce_delay_max_s)
    # Retained and re-published on every reconnect by the link; births re-announce.
    await link.set_state(topic, payload)

    async def on_status(msg: Message) -> None:
        await announcer.on_ha_status(msg.payload)

    await link.subscribe(ha_status_topic(ha.discovery_prefix), on_status)
    return announcer
