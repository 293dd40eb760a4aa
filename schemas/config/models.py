"""The ``models:`` section: where model files live, where they come from, how they run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.config.base import ConfigSection


class ModelRuntimeConfig(ConfigSection):
    """Per-model overrides of the runtime defaults below."""

    providers: list[str] | None = Field(
        default=None,
        description="Execution providers in order, e.g. [cuda, cpu] (default: best available).",
    )
    intra_op_threads: int | None = Field(
        default=None, ge=0, description="Threads inside one operator (0: one per core)."
    )
    inter_op_threads: int | None = Field(
        default=None, ge=0, description="Threads across independent operators."
    )


class ModelsConfig(ConfigSection):
    store_dir: str | None = Field(
        default=None,
        description="Model store (default: $XDG_CACHE_HOME/citywatch/models or ~/.cache/...).",
    )
    mirror: str | None = Field(
        default=None,
        description=(
            "Directory or http(s) URL holding the model files by name; used instead of the "
            "pinned URLs (env CITYWATCH_MODEL_MIRROR also sets it)."
        ),
    )
    pull_missing: bool = Field(
        default=True, description="Download missing models on start (else fail with a hint)."
    )
    download_timeout_s: float = Field(
        default=30.0, gt=0, description="Socket timeout of one download request."
    )
    providers: list[str] | None = Field(
        default=None, description="Default execution providers (default: TensorRT, CUDA, CPU)."
    )
    intra_op_threads: int = Field(
        default=0, ge=0, description="Threads inside one operator (0: one per core)."
    )
    inter_op_threads: int = Field(default=1, ge=0, description="Threads across operators.")
    graph_optimization: Literal["disable", "basic", "extended", "all"] = Field(
        default="all", description="ONNX Runtime graph optimisation level."
    )
    warmup_runs: int = Field(default=1, ge=0, description="Warm-up runs after loading.")
    per_model: dict[str, ModelRuntimeConfig] = Field(
        default_factory=dict, description="Overrides by model name or slot."
    )
