"""ModelSession: contract check against the manifest, typed failures, runs, latency, options."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from node.inference.errors import (
    InvalidFeedsError,
    ManifestMismatchError,
    ModelLoadError,
    ProviderUnavailableError,
)
from node.inference.providers import CPU, choose_providers
from node.inference.session import ModelSession, SessionOptions, make_ort_options
from node.registry.defaults import bundled_models_dir, default_registry
from schemas.manifest import InputSpec, TensorSpec
from tests.conftest import SharedData
from tests.inference.tiny_models import add_manifest, add_model


@pytest.fixture
def adder(tmp_path: Path) -> Path:
    return add_model(tmp_path / "adder.onnx", add=1.0)


def test_runs_and_records_latency(adder: Path) -> None:
    ticks = iter([10.0, 10.004])  # an injected timer: 4 ms per run
    s = ModelSession(adder, add_manifest(), timer=lambda: next(ticks))
    (y,) = s.run({"x": np.arange(4, dtype=np.float32)[None]})
    np.testing.assert_allclose(y, [[1, 2, 3, 4]])
    lat = s.latency()
    assert lat.count == 1
    assert lat.median_ms == pytest.approx(4.0)
    assert s.providers[-1] == CPU


@pytest.mark.parametrize(
    ("manifest_kwargs", "problem"),
    [
        ({"in_name": "images"}, "input names ['x'] != manifest ['images']"),
        ({"out_name": "logits"}, "output names ['y'] != manifest ['logits']"),
        ({"dim": 8}, "input 'x' shape [1, 4] != manifest [1, 8]"),
    ],
)
def test_manifest_mismatch_names_the_difference(
    adder: Path, manifest_kwargs: dict[str, object], problem: str
) -> None:
    with pytest.raises(ManifestMismatchError) as info:
        ModelSession(adder, add_manifest(**manifest_kwargs))  # type: ignore[arg-type]
    assert problem in info.value.problems


def test_dtype_mismatch(adder: Path) -> None:
    m = add_manifest().model_copy(
        update={"inputs": [InputSpec(name="x", shape=[1, 4], dtype="uint8")]}
    )
    with pytest.raises(ManifestMismatchError, match="dtype float32 != manifest uint8"):
        ModelSession(adder, m)


def test_dynamic_dims_accept_fixed_ones(adder: Path) -> None:
    m = add_manifest().model_copy(
        update={
            "inputs": [InputSpec(name="x", shape=["batch", 4])],
            "outputs": [TensorSpec(name="y", shape=[None, 4])],
        }
    )
    ModelSession(adder, m).warmup()


@pytest.mark.parametrize("content", [b"", b"not an onnx file at all", b"\x08\x07" * 100])
def test_corrupt_file_is_a_load_error(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(ModelLoadError) as info:
        ModelSession(p, add_manifest())
    assert info.value.path == str(p)


@pytest.mark.parametrize(
    ("feeds", "match"),
    [
        ({"z": np.zeros((1, 4), np.float32)}, "got inputs"),
        ({"x": np.zeros((1, 4), np.float64)}, "dtype float64"),
        ({"x": np.zeros(4, np.float32)}, "rank 1"),
    ],
)
def test_bad_feeds_are_refused_before_ort(
    adder: Path, feeds: dict[str, np.ndarray], match: str
) -> None:
    s = ModelSession(adder, add_manifest())
    with pytest.raises(InvalidFeedsError, match=match):
        s.run(feeds)
    assert s.latency().count == 0


def test_concurrent_runs_from_threads(adder: Path) -> None:
    s = ModelSession(adder, add_manifest())
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(50):
                x = np.full((1, 4), k, np.float32)
                (y,) = s.run({"x": x})
                assert np.array_equal(y, x + 1)
        except BaseException as err:  # collected and asserted on the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert s.latency().count == 200


def test_session_options_disable_spinning() -> None:
    so = make_ort_options(SessionOptions(intra_op_threads=2, inter_op_threads=1))
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert so.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert so.intra_op_num_threads == 2


@pytest.mark.parametrize(
    ("available", "override", "expected"),
    [
        ([CPU], None, [CPU]),
        (["CUDAExecutionProvider", CPU], None, ["CUDAExecutionProvider", CPU]),
        (
            [CPU, "CUDAExecutionProvider", "TensorrtExecutionProvider"],
            None,
            ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU],
        ),
        (["AzureExecutionProvider"], None, [CPU]),
        (["CUDAExecutionProvider", CPU], ["cpu"], [CPU]),
        (["CUDAExecutionProvider", CPU], ["cuda", "cpu"], ["CUDAExecutionProvider", CPU]),
    ],
)
def test_choose_providers(
    available: list[str], override: list[str] | None, expected: list[str]
) -> None:
    assert choose_providers(available, override) == expected


def test_override_with_missing_provider_is_an_error() -> None:
    with pytest.raises(ProviderUnavailableError, match="TensorrtExecutionProvider"):
        choose_providers([CPU], ["tensorrt"])


def test_yolox_with_a_wrong_manifest_is_refused(shared_data: SharedData) -> None:
    path = shared_data.path("models/yolox_nano.onnx")
    good = default_registry()["yolox_nano"].manifest
    wrong = good.model_copy(
        update={"inputs": [good.inputs[0].model_copy(update={"shape": [1, 3, 320, 320]})]}
    )
    with pytest.raises(ManifestMismatchError, match=r"\[1, 3, 416, 416\] != manifest"):
        ModelSession(path, wrong)


@pytest.mark.parametrize("name", sorted(default_registry()))
def test_every_pinned_manifest_matches_its_file(shared_data: SharedData, name: str) -> None:
    entry = default_registry()[name]
    if entry.bundled is not None:  # shipped in the repo, not in ../shared/models
        path = bundled_models_dir() / entry.bundled
        assert path.is_file(), f"bundled model {entry.bundled} missing from the repo"
    else:
        path = shared_data.path(f"models/{entry.file}")
    s = ModelSession(path, entry.manifest)
    s.warmup()
    assert s.latency().count == 0  # warm-up runs are not frame latencies
