"""Every model of the node runs on the providers the config names, with their options, and
with spin-waiting off.

The analytics are built by their real builders from a YAML config a user could write: faces
(YuNet + MobileFaceNet), fire, movement (person detector, MoveNet, classifier) and objects. ONNX
Runtime's ``InferenceSession`` is replaced by a recorder, so each test sees exactly what the one
session factory (``node.inference.session.open_session``) asked ORT for; the recorder then opens
the real model on the CPU, since this machine has no GPU, and the builders' contract checks and
warm-up runs go on as in the node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import onnxruntime as ort
import pytest
import yaml

from node.analytics.registry import BuildContext, resolve_builder
from node.config import load_config
from node.inference import providers as providers_module
from node.inference.providers import CPU, CUDA, TENSORRT
from node.registry.loader import ModelLoader
from node.registry.store import store_from_config
from schemas.config import NodeConfig
from tests.conftest import SharedData

ANALYTICS = ("faces", "fire", "movement", "objects")
# file -> what opens it: every model these four analytics run
REGISTRY_FILES = {
    "yunet_n_320_320.onnx",  # faces: detector
    "MobileFaceNet.onnx",  # faces: embedder
    "fire_fp32.onnx",  # fire (default precision fp32)
    "yolox_nano.onnx",  # objects, and movement's person detector (one slot, one session)
    "movenet_multipose_lightning.onnx",  # movement: pose
    "movement_tcn.onnx",  # movement: classifier
}

Recorded = list[tuple[str, list[tuple[str, dict[str, str]]]]]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    """(file name, providers) of every ORT session created; a GPU build is simulated."""
    real = ort.InferenceSession
    calls: Recorded = []

    def recording(path: str, sess_options: Any = None, providers: Any = None, **kw: Any) -> Any:
        calls.append((Path(path).name, providers))
        for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
            assert sess_options.get_session_config_entry(key) == "0", f"{path}: {key} is on"
        return real(path, sess_options=sess_options, providers=[CPU], **kw)

    monkeypatch.setattr(ort, "InferenceSession", recording)
    monkeypatch.setattr(providers_module, "available_providers", lambda: [TENSORRT, CUDA, CPU])
    yield calls


def _config(tmp_path: Path, shared_data: SharedData, models: dict[str, Any],
            analytics: dict[str, Any] | None = None) -> NodeConfig:
    raw = {
        "data_dir": str(tmp_path / "data"),
        "models": {
            "store_dir": str(tmp_path / "store"),
            "mirror": str(shared_data.path("models")),
            "intra_op_threads": 1,
            **models,
        },
        "analytics": analytics or {name: {"enabled": True} for name in ANALYTICS},
    }
    path = tmp_path / "citywatch.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path, environ={})


def _build(config: NodeConfig, names: tuple[str, ...] = ANALYTICS) -> ModelLoader:
    """Build ``names`` as the node does: their builders, one loader on the config's store."""
    m = config.models
    store = store_from_config(m.store_dir, m.mirror, environ={}, progress_stream=None)
    ctx = BuildContext(node_id=config.node_id, data_dir=Path(config.data_dir))
    ctx.models = ModelLoader(store, m)
    for name in names:
        resolve_builder(name)(config, ctx)
    return ctx.models


def _by_file(calls: Recorded) -> dict[str, list[tuple[str, dict[str, str]]]]:
    out: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for file, providers in calls:
        assert out.setdefault(file, providers) == providers, f"{file} opened twice, differently"
    return out


GPU_OPTIONS: dict[str, Any] = {
    "providers": ["tensorrt", "cuda", "cpu"],
    "tensorrt": {"fp16": False, "device_id": 1},
    "cuda": {"device_id": 1},
}


def _expected(engines: Path, fp16: str = "False", device: str = "1") -> list[Any]:
    return [
        (TENSORRT, {"device_id": device, "trt_fp16_enable": fp16,
                    "trt_engine_cache_enable": "True", "trt_engine_cache_path": str(engines)}),
        (CUDA, {"device_id": device}),
        (CPU, {}),
    ]  # fmt: skip


@pytest.mark.shared_data
def test_every_registry_model_gets_the_configured_providers(
    tmp_path: Path, shared_data: SharedData, recorded: Recorded
) -> None:
    engines = tmp_path / "engines"
    models = {**GPU_OPTIONS, "tensorrt": {"fp16": False, "device_id": 1,
                                          "engine_cache_dir": str(engines)}}
    _build(_config(tmp_path, shared_data, models))
    opened = _by_file(recorded)
    assert set(opened) == REGISTRY_FILES
    assert {f: p for f, p in opened.items() if p != _expected(engines)} == {}
    assert engines.is_dir()  # TensorRT would fail to write its engines otherwise


@pytest.mark.shared_data
def test_model_files_opened_outside_the_registry_get_them_too(
    tmp_path: Path, shared_data: SharedData, recorded: Recorded
) -> None:
    """A bundled fire model and a classifier named by its sidecar path are opened from their
    files, yet through the same factory with the same options; without an engine folder in the
    config, TensorRT keeps its engines in the model store."""
    from node.movement.classifier import DEFAULT_SIDECAR

    analytics = {
        "fire": {"enabled": True, "model_source": "bundled"},
        "movement": {"enabled": True, "classifier": str(DEFAULT_SIDECAR)},
    }
    loader = _build(_config(tmp_path, shared_data, GPU_OPTIONS, analytics), ("fire", "movement"))
    opened = _by_file(recorded)
    assert {"fire_fp32.onnx", "movement_tcn.onnx"} <= set(opened)
    assert set(loader.handles()) == {"yolox_nano", "movenet_multipose"}  # not the two files
    engines = tmp_path / "store" / "tensorrt"
    assert {f: p for f, p in opened.items() if p != _expected(engines)} == {}


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("models", "expected"),
    [
        # nothing configured: every provider the build has, best first, FP16 TensorRT on GPU 0
        ({}, lambda engines: _expected(engines, fp16="True", device="0")),
        # a per-model override wins for that model only
        ({"providers": ["cuda", "cpu"], "per_model": {"yunet": {"providers": ["cpu"]}}},
         lambda engines: [(CUDA, {"device_id": "0"}), (CPU, {})]),
    ],
)
def test_defaults_and_per_model_overrides(
    tmp_path: Path, shared_data: SharedData, recorded: Recorded, models: dict[str, Any],
    expected: Callable[[Path], list[Any]],
) -> None:
    _build(_config(tmp_path, shared_data, models, {"faces": {"enabled": True}}), ("faces",))
    opened = _by_file(recorded)
    want = expected(tmp_path / "store" / "tensorrt")
    assert opened["MobileFaceNet.onnx"] == want
    assert opened["yunet_n_320_320.onnx"] == (want if "per_model" not in models else [(CPU, {})])


def test_a_configured_provider_the_build_lacks_is_a_clear_error(tmp_path: Path) -> None:
    from node.inference.errors import ProviderUnavailableError
    from node.inference.session import SessionOptions, open_session

    with pytest.raises(ProviderUnavailableError, match="TensorrtExecutionProvider"):
        open_session(tmp_path / "any.onnx", SessionOptions(providers=("tensorrt", "cpu")))
