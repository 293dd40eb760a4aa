"""citywatch node runtime: sources -> frames -> models -> events -> outbox -> MQTT."""

__version__ = "0.1.0"
