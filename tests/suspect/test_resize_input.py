"""``models.suspect.resize_input``: the shipped merged detector re-sized by graph surgery. At 416
it is the same model (bit-identical output on a real image); at 512 it runs, its manifest copy
passes the node's contract check and the node's decoder reads its larger grids, and its people
are still exactly YOLOX-nano's (the pinned file re-sized the same way)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.suspect.resize_input import main, manifest_for, resize
from node.detect.preprocess import preprocess
from node.detect.yolox import detect
from node.inference.session import ModelSession, SessionOptions
from node.registry.defaults import default_registry
from schemas.manifest import ModelManifest
from tests.conftest import REPO, SharedData

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

MODEL = REPO / "models" / "suspect" / "suspect_yolox.onnx"


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"images": x})[0])


def _bus(shared_data: SharedData) -> np.ndarray:
    return np.asarray(cv2.imread(str(shared_data.path("datasets/images/bus.jpg"))), np.uint8)


@pytest.mark.shared_data
def test_416_is_the_same_model(shared_data: SharedData, tmp_path: Path) -> None:
    out = tmp_path / "s416" / "suspect_yolox.onnx"
    assert main([str(MODEL), str(out), "--size", "416"]) == 0
    x = preprocess(_bus(shared_data), (416, 416)).tensor
    a, b = _run(MODEL, x), _run(out, x)
    assert a.shape == b.shape == (1, 7098, 10)
    assert np.array_equal(a, b)
    # the fixed [1, 3549, k] zero constants are gone
    names = {n.output[0] for n in onnx.load(str(out)).graph.node if n.op_type == "Constant"}
    assert "/Constant_29_output_0" not in names and "/Constant_20_output_0" not in names


@pytest.mark.shared_data
def test_512_runs_in_the_node_with_yolox_nano_people(
    shared_data: SharedData, tmp_path: Path
) -> None:
    out = tmp_path / "s512" / "suspect_yolox.onnx"
    assert main([str(MODEL), str(out), "--size", "512"]) == 0
    manifest = ModelManifest.model_validate(json.loads(out.with_suffix(".json").read_text()))
    rows = 2 * sum((512 // s) ** 2 for s in (8, 16, 32))
    assert manifest.inputs[0].shape == [1, 3, 512, 512]
    assert manifest.outputs[0].shape == [1, rows, 10]
    assert manifest.size == out.stat().st_size
    frame = _bus(shared_data)
    raw = _run(out, preprocess(frame, (512, 512)).tensor)[0]
    assert raw.shape == (rows, 10)
    half = rows // 2
    assert not raw[:half, 6:].any() and not raw[half:, 5].any()  # zero columns follow the rows

    opts = SessionOptions(intra_op_threads=1, providers=("CPUExecutionProvider",))
    ours = detect(ModelSession(out, manifest, opts), frame, score_threshold=0.05,
                  iou_threshold=0.45)  # fmt: skip
    # the pinned YOLOX-nano re-sized the same way: the same people, exactly
    nano = onnx.load(str(shared_data.path("models/yolox_nano.onnx")))
    nano, nano_rows = resize(nano, 512)
    nano_path = tmp_path / "yolox_nano_512.onnx"
    onnx.save(nano, str(nano_path))
    assert nano_rows == half
    nano_src = default_registry()["yolox_nano"].manifest.model_dump()
    nano_m = ModelManifest.model_validate(manifest_for(nano_src, nano_path, 512, nano_rows))
    ref = detect(ModelSession(nano_path, nano_m, opts), frame, score_threshold=0.05,
                 iou_threshold=0.45)  # fmt: skip
    ours, ref = ours[ours.labels == "person"], ref[ref.labels == "person"]
    assert len(ref) >= 2
    assert len(ours) == len(ref)
    np.testing.assert_array_equal(ours.xyxy, ref.xyxy)
    np.testing.assert_array_equal(ours.score, ref.score)


def test_size_must_fit_the_strides() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        resize(onnx.load(str(MODEL)), 500)
