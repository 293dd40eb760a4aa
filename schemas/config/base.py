"""Base class for config sections: unknown keys are errors, every field is described."""

from pydantic import BaseModel, ConfigDict


class ConfigSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)
