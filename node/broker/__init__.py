"""The embedded MQTT broker (amqtt) the node starts when no broker is configured."""

from node.broker.embedded import DEFAULT_PORT, BrokerStartError, EmbeddedBroker

__all__ = ["DEFAULT_PORT", "BrokerStartError", "EmbeddedBroker"]
