"""ONNX Runtime wrapper: provider choice, session options, manifest check, swappable handles."""

from node.inference.errors import ModelError
from node.inference.handle import ModelHandle
from node.inference.session import ModelSession, SessionOptions

__all__ = ["ModelError", "ModelHandle", "ModelSession", "SessionOptions"]
