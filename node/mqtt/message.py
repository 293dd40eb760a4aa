"""What subscription handlers receive: an MQTT message without any aiomqtt type in it.

aiomqtt/paho messages are converted here, in one place (``from_aiomqtt``); handlers never see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiomqtt


@dataclass(frozen=True)
class Message:
    """One received MQTT message, converted once at the edge (``node.mqtt``)."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    # MQTT v5 request/response: where the sender wants its reply, and what to echo back.
    response_topic: str | None = None
    correlation_data: bytes | None = None

    @classmethod
    def from_aiomqtt(cls, message: aiomqtt.Message) -> Message:
        props = message.properties
        return cls(
            topic=message.topic.value,
            payload=_as_bytes(message.payload),
            qos=int(message.qos),
            retain=bool(message.retain),
            response_topic=_prop(props, "ResponseTopic", str),
            correlation_data=_prop(props, "CorrelationData", bytes),
        )


def _as_bytes(payload: Any) -> bytes:
    # paho hands bytes; aiomqtt's type allows str/int/float/None for outgoing payloads.
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()


def _prop(props: Any, name: str, kind: type[Any]) -> Any:
    # paho's Properties only has the attribute when the sender set it (MQTT v5 only).
    value = getattr(props, name, None) if props is not None else None
    if value is None:
        return None
    if kind is bytes and isinstance(value, str):
        return value.encode()
    return kind(value)
