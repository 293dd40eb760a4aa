"""Choose ONNX Runtime execution providers (TensorRT, then CUDA, then CPU) and their options.

Only what the installed onnxruntime build offers is used; the config (``models.providers``, per
model ``models.per_model.<name>.providers``) may name providers explicitly (full names or the
short aliases ``tensorrt``, ``cuda``, ``cpu``). This module is the only place that names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from node.inference.errors import ProviderUnavailableError
from schemas.config.models import CudaConfig, TensorrtConfig

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERENCE: tuple[str, ...] = (TENSORRT, CUDA, CPU)
ALIASES: dict[str, str] = {"tensorrt": TENSORRT, "trt": TENSORRT, "cuda": CUDA, "cpu": CPU}

# One entry of the providers list an ONNX Runtime session takes: (name, options).
ProviderSpec = tuple[str, dict[str, str]]


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def canonical(name: str) -> str:
    return ALIASES.get(name.lower(), name)


def choose_providers(
    available: Sequence[str] | None = None, override: Sequence[str] | None = None
) -> list[str]:
    """Providers to pass to ``InferenceSession``, best first.

    Without ``override``: every provider of ``PREFERENCE`` the build has, CPU always last as the
    fallback ORT uses for unsupported nodes. With ``override``: exactly those, in that order;
    one the build lacks is an error rather than a silent CPU fallback.
    """
    have = list(available) if available is not None else available_providers()
    if override:
        wanted = [canonical(p) for p in override]
        missing = [p for p in wanted if p not in have]
        if missing:
            raise ProviderUnavailableError(missing, have)
        return wanted
    chosen = [p for p in PREFERENCE if p in have]
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


def provider_options(name: str, tensorrt: TensorrtConfig, cuda: CudaConfig) -> dict[str, str]:
    """ONNX Runtime's options for provider ``name`` (strings, as ORT parses them)."""
    if name == TENSORRT:
        options = {
            "device_id": str(tensorrt.device_id),
            "trt_fp16_enable": str(tensorrt.fp16),
        }
        if tensorrt.engine_cache_dir:
            options["trt_engine_cache_enable"] = "True"
            options["trt_engine_cache_path"] = str(Path(tensorrt.engine_cache_dir).expanduser())
        return options
    if name == CUDA:
        return {"device_id": str(cuda.device_id)}
    return {}


def with_options(
    providers: Sequence[str], tensorrt: TensorrtConfig, cuda: CudaConfig
) -> list[ProviderSpec]:
    """``providers`` (canonical names) paired with their options."""
    return [(p, provider_options(p, tensorrt, cuda)) for p in providers]
