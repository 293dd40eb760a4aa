"""The node's model runner: ``open_session`` creates every ONNX Runtime session of the node
(providers and their options from the config, spin-waiting off); ``ModelSession`` is one session
checked against its manifest, and timed.

``run`` is safe to call from several worker threads at once (ONNX Runtime's ``run`` is
thread-safe; only the latency record needs the lock here).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from node.inference.errors import InvalidFeedsError, ManifestMismatchError, ModelLoadError
from node.inference.providers import TENSORRT, ProviderSpec, choose_providers, with_options
from schemas.config.models import CudaConfig, ModelsConfig, TensorrtConfig
from schemas.manifest import Dim, InputSpec, ModelManifest, TensorSpec

GraphOptimization = Literal["disable", "basic", "extended", "all"]

# ONNX Runtime's type strings -> the manifest's dtype names.
ORT_TYPES: dict[str, str] = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}
WARMUP_DYNAMIC_DIM = 1  # a dynamic dim with no size in the manifest is fed as 1 when warming up


@dataclass(frozen=True)
class SessionOptions:
    """How a session is built. ``intra_op_threads=0`` lets ORT use one thread per core."""

    intra_op_threads: int = 0
    inter_op_threads: int = 1
    graph_optimization: GraphOptimization = "all"
    providers: tuple[str, ...] | None = None  # None: TensorRT -> CUDA -> CPU, as available
    tensorrt: TensorrtConfig = field(default_factory=TensorrtConfig)
    cuda: CudaConfig = field(default_factory=CudaConfig)
    latency_window: int = 512

    def provider_specs(self) -> list[ProviderSpec]:
        """The providers to ask ORT for, best first, each with its options."""
        return with_options(choose_providers(override=self.providers), self.tensorrt, self.cuda)


def session_options(
    config: ModelsConfig,
    *keys: str,
    intra_op_threads: int | None = None,
    engine_cache_dir: Path | None = None,
) -> SessionOptions:
    """Runtime options from the ``models`` config, overridden by its ``per_model`` entries of
    ``keys`` (model names or slots, later keys win). ``intra_op_threads`` overrides both (an
    analytic's own ``threads`` setting); ``engine_cache_dir`` is where TensorRT engines go when
    the config names no folder (the loader passes one inside the model store)."""
    providers = config.providers
    intra, inter = config.intra_op_threads, config.inter_op_threads
    for key in keys:
        o = config.per_model.get(key)
        if o is None:
            continue
        providers = o.providers if o.providers is not None else providers
        intra = o.intra_op_threads if o.intra_op_threads is not None else intra
        inter = o.inter_op_threads if o.inter_op_threads is not None else inter
    tensorrt = config.tensorrt
    if tensorrt.engine_cache_dir is None and engine_cache_dir is not None:
        tensorrt = tensorrt.model_copy(update={"engine_cache_dir": str(engine_cache_dir)})
    return SessionOptions(
        intra_op_threads=intra if intra_op_threads is None else intra_op_threads,
        inter_op_threads=inter,
        graph_optimization=config.graph_optimization,
        providers=tuple(providers) if providers else None,
        tensorrt=tensorrt,
        cuda=config.cuda,
    )


def make_ort_options(options: SessionOptions) -> Any:
    """The ``onnxruntime.SessionOptions`` for ``options``."""
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.intra_op_threads
    so.inter_op_num_threads = options.inter_op_threads
    so.graph_optimization_level = levels[options.graph_optimization]
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spin-waiting worker threads burn the shared vCPUs of small VMs and roughly double latency
    # there; blocking waits cost a few microseconds per op at most.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return so


def open_session(path: str | Path, options: SessionOptions) -> Any:
    """An ``onnxruntime.InferenceSession`` on ``path``: the only place the node creates one, so
    every model runs on the configured providers with the same threading and spin-waiting off.

    Raises ``ProviderUnavailableError`` for a configured provider the build lacks and
    ``ModelLoadError`` for a file ONNX Runtime cannot load."""
    import onnxruntime as ort

    providers = options.provider_specs()
    try:
        for name, provider_opts in providers:
            if name == TENSORRT and "trt_engine_cache_path" in provider_opts:
                Path(provider_opts["trt_engine_cache_path"]).mkdir(parents=True, exist_ok=True)
        return ort.InferenceSession(
            str(path), sess_options=make_ort_options(options), providers=providers
        )
    except Exception as err:  # ORT raises plain Exception subclasses per cause; or an OSError
        raise ModelLoadError(str(path), str(err).strip() or type(err).__name__) from err


@dataclass(frozen=True)
class LatencyStats:
    count: int
    last_ms: float
    median_ms: float
    p90_ms: float


def _dims_match(declared: Dim, actual: Dim) -> bool:
    # A fixed size on both sides must agree; a dynamic dim on either side accepts the other.
    return not (isinstance(declared, int) and isinstance(actual, int) and declared != actual)


def _check_tensors(kind: str, declared: Sequence[TensorSpec], actual: Sequence[Any]) -> list[str]:
    problems: list[str] = []
    d_names = [s.name for s in declared]
    a_names = [a.name for a in actual]
    if d_names != a_names:
        problems.append(f"{kind} names {a_names} != manifest {d_names}")
        return problems
    for spec, real in zip(declared, actual, strict=True):
        real_shape = list(real.shape)
        real_type = ORT_TYPES.get(real.type, real.type)
        if real_type != spec.dtype:
            problems.append(f"{kind} {spec.name!r} dtype {real_type} != manifest {spec.dtype}")
        if len(real_shape) != len(spec.shape) or not all(
            _dims_match(d, a) for d, a in zip(spec.shape, real_shape, strict=True)
        ):
            problems.append(f"{kind} {spec.name!r} shape {real_shape} != manifest {spec.shape}")
    return problems


def check_contract(manifest: ModelManifest, inputs: Sequence[Any], outputs: Sequence[Any]) -> None:
    """Raise ``ManifestMismatchError`` naming every difference between graph and manifest."""
    problems = _check_tensors("input", manifest.inputs, inputs)
    problems += _check_tensors("output", manifest.outputs, outputs)
    if problems:
        raise ManifestMismatchError(manifest.name, problems)


def warmup_feeds(inputs: Sequence[InputSpec]) -> dict[str, npt.NDArray[Any]]:
    return {
        spec.name: np.zeros(
            [d if isinstance(d, int) else WARMUP_DYNAMIC_DIM for d in spec.shape],
            dtype=np.dtype(spec.dtype),
        )
        for spec in inputs
    }


class ModelSession:
    """An ORT session for one model file whose graph matches ``manifest``."""

    def __init__(
        self,
        path: str | Path,
        manifest: ModelManifest,
        options: SessionOptions | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.options = options or SessionOptions()
        self._timer = timer
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=self.options.latency_window)
        self._count = 0
        self._session = open_session(self.path, self.options)
        check_contract(manifest, self._session.get_inputs(), self._session.get_outputs())
        self.input_names = [s.name for s in manifest.inputs]
        self.output_names = [s.name for s in manifest.outputs]
        self._dtypes = {s.name: np.dtype(s.dtype) for s in manifest.inputs}
        self._ranks = {s.name: len(s.shape) for s in manifest.inputs}

    @property
    def providers(self) -> list[str]:
        """Providers the session really uses (ORT drops those that failed to initialise)."""
        return list(self._session.get_providers())

    def warmup(self, runs: int = 1) -> None:
        """Run zeros through the graph so the first frame does not pay for lazy initialisation."""
        feeds = warmup_feeds(self.manifest.inputs)
        for _ in range(runs):
            try:
                self._session.run(None, feeds)
            except Exception as err:
                raise ModelLoadError(str(self.path), f"warm-up run failed: {err}") from err

    def _check_feeds(self, feeds: Mapping[str, npt.NDArray[Any]]) -> None:
        problems: list[str] = []
        if set(feeds) != set(self._dtypes):
            problems.append(f"got inputs {sorted(feeds)}, expected {sorted(self._dtypes)}")
        else:
            for name, arr in feeds.items():
                if arr.dtype != self._dtypes[name]:
                    problems.append(f"{name}: dtype {arr.dtype} != {self._dtypes[name]}")
                if arr.ndim != self._ranks[name]:
                    problems.append(f"{name}: rank {arr.ndim} != {self._ranks[name]}")
        if problems:
            raise InvalidFeedsError(self.manifest.name, problems)

    def run(self, feeds: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
        """Outputs in manifest order. Raises ``InvalidFeedsError`` for inputs that cannot fit."""
        self._check_feeds(feeds)
        start = self._timer()
        outputs: list[npt.NDArray[Any]] = self._session.run(self.output_names, dict(feeds))
        elapsed_ms = (self._timer() - start) * 1000.0
        with self._lock:
            self._latencies.append(elapsed_ms)
            self._count += 1
        return outputs

    def latency(self) -> LatencyStats:
        with self._lock:
            window = np.array(self._latencies, dtype=np.float64)
            count = self._count
        if window.size == 0:
            return LatencyStats(count=0, last_ms=0.0, median_ms=0.0, p90_ms=0.0)
        return LatencyStats(
            count=count,
            last_ms=float(window[-1]),
            median_ms=float(np.median(window)),
            p90_ms=float(np.percentile(window, 90)),
        )
