"""Choose ONNX Runtime execution providers: TensorRT, then CUDA, then CPU.

Only what the installed onnxruntime build offers is used; a per-model override may name
providers explicitly (full names or the short aliases ``tensorrt``, ``cuda``, ``cpu``).
"""

from __future__ import annotations

from collections.abc import Sequence

from node.inference.errors import ProviderUnavailableError

CPU = "CPUExecutionProvider"
PREFERENCE: tuple[str, ...] = ("TensorrtExecutionProvider", "CUDAExecutionProvider", CPU)
ALIASES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": CPU,
}


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
