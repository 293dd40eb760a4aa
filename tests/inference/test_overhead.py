"""The overhead measurement compares identical tensors and reports both paths (no speed claims)."""

from __future__ import annotations

import numpy as np
import pytest

from node.inference.overhead import measure_wrapper_overhead, plain_preprocess
from node.inference.preprocess import prepare_image
from node.inference.session import SessionOptions
from node.registry.defaults import default_registry
from tests.conftest import SharedData


@pytest.mark.parametrize("name", ["yolox_nano", "mobilefacenet", "movenet_multipose", "yunet"])
def test_plain_baseline_builds_the_same_tensor(name: str) -> None:
    spec = default_registry()[name].manifest.inputs[0]
    img = np.random.default_rng(1).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    np.testing.assert_array_equal(plain_preprocess(img, spec), prepare_image(img, spec)[0])


def test_measure_reports_both_paths(shared_data: SharedData) -> None:
    entry = default_registry()["yunet"]
    r = measure_wrapper_overhead(
        shared_data.path(f"models/{entry.file}"), entry.manifest, n=4, warmup=1,
        options=SessionOptions(intra_op_threads=1),
    )
    assert r["n"] == 4 and r["model"] == "yunet"
    assert r["bare_median_ms"] > 0 and r["wrapper_median_ms"] > 0
    assert r["ratio"] == pytest.approx(r["wrapper_median_ms"] / r["bare_median_ms"])
