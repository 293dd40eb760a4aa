"""Tiny ONNX models built in the tests with ``onnx.helper`` (no weights from anywhere)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from schemas.manifest import InputSpec, ModelManifest, TensorSpec


def add_model(
    path: Path, add: float, in_name: str = "x", out_name: str = "y", dim: int = 4
) -> Path:
    """``y = x + add`` for ``x`` of shape ``[1, dim]`` float32."""
    const = numpy_helper.from_array(np.array([add], dtype=np.float32), name="c")
    graph = helper.make_graph(
        [helper.make_node("Add", [in_name, "c"], [out_name])],
        "add",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, [1, dim])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, dim])],
        initializer=[const],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime >= 1.17
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_manifest(
    name: str = "adder",
    version: str = "1",
    in_name: str = "x",
    out_name: str = "y",
    dim: int = 4,
    path: Path | None = None,
) -> ModelManifest:
    return ModelManifest(
        name=name,
        version=version,
        task="other",
        family="generic",
        inputs=[InputSpec(name=in_name, shape=[1, dim])],
        outputs=[TensorSpec(name=out_name, shape=[1, dim])],
        sha256=sha256(path) if path else None,
        size=path.stat().st_size if path else None,
        license="Apache-2.0",
    )
