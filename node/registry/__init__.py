"""Model registry and store: pinned defaults, pull/verify/import, loading into handles."""

from node.registry.loader import ModelLoader
from node.registry.store import ModelStore

__all__ = ["ModelLoader", "ModelStore"]
