"""The node's model runner: the one session factory (``open_session``), provider choice, session
options from the config, manifest check, swappable handles, the one letterbox."""

from node.inference.errors import ModelError
from node.inference.handle import ModelHandle
from node.inference.session import ModelSession, SessionOptions, open_session

__all__ = ["ModelError", "ModelHandle", "ModelSession", "SessionOptions", "open_session"]
