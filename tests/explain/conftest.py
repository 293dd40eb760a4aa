"""The runtime tests' MQTT collector, for the node-level explanation test."""

from tests.runtime.conftest import collector_factory

__all__ = ["collector_factory"]
