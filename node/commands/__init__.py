"""The command channel: ``<prefix>/<node_id>/cmd/<name>`` -> handler -> reply."""

from node.commands.builtin import RuntimeControl, register_builtin
from node.commands.dispatcher import CommandContext, CommandDispatcher
from node.commands.errors import CommandError
from node.commands.signing import NonceCache, SignatureVerifier, sign, signed_envelope

__all__ = [
    "CommandContext",
    "CommandDispatcher",
    "CommandError",
    "NonceCache",
    "RuntimeControl",
    "SignatureVerifier",
    "register_builtin",
    "sign",
    "signed_envelope",
]
