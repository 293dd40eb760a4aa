"""The embedded MQTT broker (amqtt) the node starts when no broker is configured."""

from node.broker.embedded import BrokerStartError, EmbeddedBroker

__all__ = ["BrokerStartError", "EmbeddedBroker"]
