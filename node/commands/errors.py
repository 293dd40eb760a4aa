"""The one exception of the command channel."""

from __future__ import annotations

from schemas.commands import ErrorCode


class CommandError(Exception):
    """A command was refused or failed; the reply carries ``code`` and ``message``.

    Handlers raise it for expected refusals (unknown camera, bad state); the dispatcher raises it
    for its own checks. Anything else a handler raises becomes ``internal_error``.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
