"""The ``models:`` section: where model files live, where they come from, how they run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.config.base import ConfigSection


class TensorrtConfig(ConfigSection):
    """Options of ONNX Runtime's TensorRT execution provider (NVIDIA GPUs, Jetson)."""

    engine_cache_dir: str | None = Field(
        default=None,
        description="Folder where built TensorRT engines are kept and reused: building one takes "
        "minutes on a Jetson, so each model is built on its first start only (default: "
        "`tensorrt/` inside the model store).",
    )
    fp16: bool = Field(
        default=True,
        description="Let TensorRT run layers in FP16, faster on Jetson GPUs; scores can differ "
        "slightly from the CPU figures in the model cards (measured in FP32/INT8). false keeps "
        "FP32.",
    )
    device_id: int = Field(default=0, ge=0, description="GPU that TensorRT runs on.")


class CudaConfig(ConfigSection):
    """Options of ONNX Runtime's CUDA execution provider."""

    device_id: int = Field(default=0, ge=0, description="GPU that CUDA runs on.")


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
        default=None,
        description="ONNX Runtime execution providers for every model, best first, e.g. "
        "[tensorrt, cuda, cpu] (short names or full ONNX Runtime names); one the installed "
        "onnxruntime lacks is an error. Default: those of TensorRT, CUDA, CPU it offers.",
    )
    tensorrt: TensorrtConfig = Field(
        default_factory=TensorrtConfig, description="TensorRT provider options."
    )
    cuda: CudaConfig = Field(default_factory=CudaConfig, description="CUDA provider options.")
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
