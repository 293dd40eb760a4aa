"""Shared pydantic base classes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Boundary model: unknown keys are an error, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Frozen(BaseModel):
    """Immutable payload model."""

    model_config = ConfigDict(extra="forbid", frozen=True)
