"""The node's one connection to its broker (aiomqtt 2.5), kept alive for the node's whole life.

What it guarantees:

* a last will (``offline``, retained, QoS 1) on ``availability``; ``online`` on every connect;
  ``stopped`` on a clean shutdown (a clean DISCONNECT also makes the broker drop the will);
* retained state (``set_state``) and subscriptions (``subscribe``) are re-established after every
  reconnect, so callers register them once;
* reconnects with exponential backoff and jitter, counted in ``reconnects``;
* MQTT v5 when the broker speaks it (response topics for commands), else MQTT 3.1.1: in
  ``protocol="auto"`` a CONNACK refusing v5 switches the link to 3.1.1 for good. The embedded amqtt
  broker only speaks 3.1.1, so the node asks for 3.1.1 directly there.

Only this package imports aiomqtt; handlers receive ``node.mqtt.message.Message``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiomqtt
from aiomqtt.exceptions import MqttCodeError, MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from node.mqtt.message import Message
from node.mqtt.topics import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    AVAILABILITY_STOPPED,
    Topics,
)
from schemas.config.mqtt import MqttConfig

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]
Protocol = Literal["auto", "5", "3.1.1"]

# CONNACK codes that mean "I do not speak this protocol version" (v5 reason code, v3 return code).
_UNSUPPORTED_PROTOCOL = {132, 1}
# How long an `auto` link waits for the answer to its v5 CONNECT before trying 3.1.1.
V5_PROBE_TIMEOUT_S = 3.0


class LinkError(Exception):
    """Root of the link's errors."""


class LinkDownError(LinkError):
    """The broker is not connected, or the connection was lost before the acknowledgement."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int


@dataclass
class LinkCounters:
    connects: int = 0
    reconnects: int = 0  # successful connections after the first one
    connect_failures: int = 0
    publish_failures: int = 0
    handler_errors: int = 0


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with +-20% jitter: ``initial * 2**attempt`` capped at ``maximum``.

    Jitter spreads the reconnects of a whole city of nodes after a broker restart.
    """
    base = min(maximum, initial * (2 ** min(attempt, 30)))
    return float(max(0.0, base * (1.0 + rng.uniform(-0.2, 0.2))))


class MqttLink:
    def __init__(
        self,
        config: MqttConfig,
        topics: Topics,
        address: BrokerAddress,
        *,
        protocol: Protocol = "auto",
        absolute_roots: tuple[str, ...] = (),
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._topics = topics
        self._address = address
        self._protocol: Protocol = protocol
        # Topics under these roots (e.g. HA's discovery prefix) are not under the node's tree.
        self._roots = (topics.prefix, *absolute_roots)
        self._rng = rng or random.Random()
        self.connected = asyncio.Event()
        self.counters = LinkCounters()
        self._client: aiomqtt.Client | None = None
        self._lost = asyncio.Event()  # set when the current connection ends
        self._states: dict[str, bytes] = {}
        self._subs: dict[str, list[Handler]] = {}
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._auto_v311 = False  # in "auto": the next attempt offers 3.1.1
        self._session_up = False

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def address(self) -> BrokerAddress:
        return self._address

    @property
    def protocol(self) -> Protocol:
        return self._protocol

    async def start(self) -> None:
        """Start the connection loop; returns at once (see ``connected``)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mqtt-link")

    async def stop(self, timeout: float = 5.0) -> None:
        """Publish ``stopped`` (retained) if connected, then disconnect cleanly."""
        if self._task is None:
            return
        self._stopping.set()
        if self.connected.is_set():
            try:
                await self._publish_acked(
                    self._topics.availability, AVAILABILITY_STOPPED.encode(), 1, True, timeout
                )
            except LinkError as err:
                log.warning("could not publish `stopped`: %s", err)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        for t in list(self._handler_tasks):
            t.cancel()

    async def __aenter__(self) -> MqttLink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- public API --------------------------------------------------------------------------

    def resolve(self, suffix_or_topic: str) -> str:
        """A topic under the node's prefix or an absolute root is kept; else it is a suffix."""
        if any(suffix_or_topic.startswith(root + "/") for root in self._roots):
            return suffix_or_topic
        return self._topics.sub(suffix_or_topic)

    async def publish(
        self,
        suffix_or_topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        *,
        correlation_data: bytes | None = None,
        absolute: bool = False,
    ) -> bool:
        """Best effort: False when offline or the broker did not take it (stats, snapshots).

        ``absolute=True`` publishes to ``suffix_or_topic`` as given (e.g. a v5 response topic).
        """
        data = payload.encode() if isinstance(payload, str) else payload
        topic = suffix_or_topic if absolute else self.resolve(suffix_or_topic)
        try:
            await self._publish_acked(
                topic,
                data,
                qos,
                retain,
                self._config.keepalive,
                correlation_data=correlation_data,
            )
        except LinkError as err:
            log.debug("best-effort publish to %s dropped: %s", suffix_or_topic, err)
            return False
        return True

    async def publish_acked(
        self, topic: str, payload: bytes, qos: int = 1, timeout: float | None = None
    ) -> None:
        """Publish and return only once the broker acknowledged it (QoS 1: PUBACK).

        aiomqtt's ``publish`` awaits paho's ``on_publish``, which paho fires for QoS 1 only when the
        PUBACK arrives. Raises ``LinkDownError`` when offline or when the connection drops first.
        """
        await self._publish_acked(
            self.resolve(topic), payload, qos, False, timeout or 2.0 * self._config.keepalive
        )

    async def set_state(self, suffix_or_topic: str, payload: bytes | str) -> None:
        """Retained state: published now if connected, and again after every reconnect."""
        topic = self.resolve(suffix_or_topic)
        data = payload.encode() if isinstance(payload, str) else payload
        self._states[topic] = data
        await self.publish(topic, data, qos=1, retain=True)

    async def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Call ``handler`` for every message matching ``topic_filter``; kept across reconnects."""
        topic_filter = self.resolve(topic_filter)
        first = topic_filter not in self._subs
        self._subs.setdefault(topic_filter, []).append(handler)
        client = self._client
        if first and client is not None and self.connected.is_set():
            with contextlib.suppress(aiomqtt.MqttError):
                await client.subscribe(topic_filter, qos=1)

    # -- internals ---------------------------------------------------------------------------

    async def _publish_acked(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        timeout: float,
        *,
        correlation_data: bytes | None = None,
    ) -> None:
        client, lost = self._client, self._lost
        if client is None or not self.connected.is_set():
            raise LinkDownError("not connected")
        props = None
        if correlation_data is not None and self._protocol == "5":
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.CorrelationData = correlation_data
        pub = asyncio.ensure_future(
            client.publish(
                topic, payload, qos=qos, retain=retain, properties=props, timeout=timeout
            )
        )
        waiter = asyncio.ensure_future(lost.wait())
        try:
            # Race the ack against the loss of this connection: aiomqtt alone would wait for its
            # timeout, but a lost connection will never deliver this PUBACK.
            await asyncio.wait({pub, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not pub.done():
            pub.cancel()
            self.counters.publish_failures += 1
            raise LinkDownError("connection lost before the broker acknowledged")
        try:
            pub.result()
        except aiomqtt.MqttError as err:
            self.counters.publish_failures += 1
            raise LinkDownError(str(err)) from err

    def _make_client(self) -> aiomqtt.Client:
        c = self._config
        tls_params, tls_insecure = None, None
        if c.tls is not None:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=c.tls.ca_certs,
                certfile=c.tls.certfile,
                keyfile=c.tls.keyfile,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            tls_insecure = c.tls.insecure
        v311 = self._protocol == "3.1.1" or (self._protocol == "auto" and self._auto_v311)
        version = aiomqtt.ProtocolVersion.V311 if v311 else aiomqtt.ProtocolVersion.V5
        timeout = max(5.0, float(c.keepalive))
        if self._protocol == "auto" and not v311:
            # A v5 probe: 3.1.1-only brokers (amqtt) never answer it, and waiting the full
            # timeout (keepalive, 30 s by default) would hold the first connection that long.
            timeout = min(timeout, V5_PROBE_TIMEOUT_S)
        return aiomqtt.Client(
            self._address.host,
            self._address.port,
            username=c.username,
            password=c.password.get_secret_value() if c.password else None,
            identifier=c.client_id or f"citywatch-{self._topics.node_id}",
            protocol=version,
            will=aiomqtt.Will(
                self._topics.availability, AVAILABILITY_OFFLINE.encode(), qos=1, retain=True
            ),
            keepalive=c.keepalive,
            tls_params=tls_params,
            tls_insecure=tls_insecure,
            timeout=timeout,
        )

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            self._session_up = False
            try:
                await self._session()
                attempt = 0  # the session ended after a successful connect
            except MqttConnectError as err:
                if self._protocol == "auto" and _rc_value(err) in _UNSUPPORTED_PROTOCOL:
                    log.info("broker refuses MQTT v5; falling back to MQTT 3.1.1")
                    self._protocol = "3.1.1"
                    continue
                self._note_failure(err, attempt)
            except aiomqtt.MqttError as err:
                self._note_failure(err, attempt)
                if self._protocol == "auto" and not self._session_up:
                    # Some 3.1.1-only brokers (amqtt) do not answer a v5 CONNECT carrying a will
                    # at all; alternate versions until one is accepted.
                    self._auto_v311 = not self._auto_v311
            if self._stopping.is_set():
                break
            delay = backoff_delay(
                attempt, self._config.reconnect_initial_s, self._config.reconnect_max_s, self._rng
            )
            attempt += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    def _note_failure(self, err: Exception, attempt: int) -> None:
        if not self.connected.is_set():
            self.counters.connect_failures += 1
        level = logging.WARNING if attempt == 0 else logging.DEBUG
        log.log(level, "MQTT %s:%s: %s", self._address.host, self._address.port, err)

    async def _session(self) -> None:
        client = self._make_client()
        lost = asyncio.Event()
        async with client:
            self._session_up = True
            if self._protocol == "auto":
                self._protocol = "3.1.1" if self._auto_v311 else "5"  # what the broker accepted
            self._client, self._lost = client, lost
            try:
                await self._on_connect(client)
                self.connected.set()
                async for msg in client.messages:
                    self._dispatch(Message.from_aiomqtt(msg))
            finally:
                self.connected.clear()
                lost.set()
                self._client = None

    async def _on_connect(self, client: aiomqtt.Client) -> None:
        self.counters.connects += 1
        if self.counters.connects > 1:
            self.counters.reconnects += 1
        log.info(
            "MQTT connected to %s:%s (v%s)", self._address.host, self._address.port, self._protocol
        )
        await client.publish(self._topics.availability, AVAILABILITY_ONLINE, qos=1, retain=True)
        # set_state()/subscribe() may run while we await here (other tasks start up too) and,
        # with `connected` not yet set, they leave the work to us: repeat over fresh copies until
        # nothing new arrived, then `connected` is set with no await in between.
        sent: dict[str, bytes] = {}
        subscribed: set[str] = set()
        while True:
            states = [(t, p) for t, p in list(self._states.items()) if sent.get(t) is not p]
            filters = [f for f in list(self._subs) if f not in subscribed]
            if not states and not filters:
                return
            for topic, payload in states:
                await client.publish(topic, payload, qos=1, retain=True)
                sent[topic] = payload
            for topic_filter in filters:
                await client.subscribe(topic_filter, qos=1)
                subscribed.add(topic_filter)

    def _dispatch(self, msg: Message) -> None:
        for topic_filter, handlers in self._subs.items():
            if not aiomqtt.Topic(msg.topic).matches(topic_filter):
                continue
            for handler in handlers:
                task = asyncio.create_task(self._call(handler, msg))
                self._handler_tasks.add(task)
                task.add_done_callback(self._handler_tasks.discard)

    async def _call(self, handler: Handler, msg: Message) -> None:
        # One bad handler must not kill the link (HA's catch_log_exception).
        try:
            await handler(msg)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.counters.handler_errors += 1
            log.exception("handler for %s failed", msg.topic)


def _rc_value(err: MqttCodeError) -> int | None:
    rc = err.rc
    if rc is None:
        return None
    return rc if isinstance(rc, int) else int(rc.value)

