"""Why an explanation could not be made. One root, so callers catch one type; the MQTT command
maps each to its own error code."""

from __future__ import annotations


class ExplainError(Exception):
    """Root of the explanation errors; the message is meant for the person who asked."""


class UnsupportedError(ExplainError):
    """This method does not apply to this model (e.g. Grad-CAM of a detector)."""


class TargetError(ExplainError):
    """Nothing to explain: unknown class or identity, no detection or face in the image."""


class DeadlineError(ExplainError):
    """The deadline passed before the budget was spent."""

    def __init__(self, done: int, budget: int, seconds: float) -> None:
        super().__init__(
            f"deadline of {seconds:.1f} s passed after {done} of {budget} forward passes; "
            "ask for a smaller budget or a longer deadline"
        )
        self.done = done
        self.budget = budget


class MissingExtraError(ExplainError):
    """A model file or optional component the method needs is not installed."""
