"""Tiny ONNX models whose evidence is known: each one only looks at the top-left quadrant of its
input, so every explanation method must point there. Built with ``onnx.helper``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from node.fire.model import FireManifest, FireModel, OrtFireBackend
from node.inference.session import ModelSession
from schemas.manifest import InputSpec, ModelManifest, TensorSpec, YoloxDecoding

SIDE = 32  # input side of every tiny model
CELL = 8  # feature-map cell of the classifier (4 x 4 map)
HEAD = np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]], np.float32)  # fire, smoke
BIAS = np.array([-1.0, 1.0], np.float32)


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def _top_left_cells() -> np.ndarray:
    n = SIDE // CELL
    mask = np.zeros((1, 1, n, n), np.float32)
    mask[..., : n // 2, : n // 2] = 1.0
    return mask


def _classifier_nodes() -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """input -> AvgPool(8) -> x top-left mask = features -> mean -> head -> sigmoid = scores."""
    nodes = [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[CELL, CELL],
                         strides=[CELL, CELL]),
        helper.make_node("Mul", ["pooled", "tl"], ["features"]),
        helper.make_node("ReduceMean", ["features"], ["gap4"], axes=[2, 3], keepdims=0),
        helper.make_node("Gemm", ["gap4", "head_w", "head_b"], ["logits"], transB=1),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]  # fmt: skip
    inits = [
        numpy_helper.from_array(_top_left_cells(), "tl"),
        numpy_helper.from_array(HEAD, "head_w"),
        numpy_helper.from_array(BIAS, "head_b"),
    ]
    return nodes, inits


def quadrant_classifier(path: Path) -> Path:
    """A fire-model lookalike: outputs ``scores`` (N, 2) and ``features`` (N, 3, 4, 4)."""
    nodes, inits = _classifier_nodes()
    graph = helper.make_graph(
        nodes, "quadrant_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 2]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", 3, 4, 4])],
        initializer=inits,
    )  # fmt: skip
    return _save(graph, path)


def quadrant_gradients(path: Path) -> Path:
    """Its Grad-CAM graph: activations = ``features``; d logit / d features is the head row over
    the 16 cells (the mean's share), selected by ``class_weights``."""
    nodes, inits = _classifier_nodes()
    nodes += [
        helper.make_node("MatMul", ["class_weights", "head_w"], ["row"]),  # (1, 3)
        helper.make_node("Reshape", ["row", "row_shape"], ["row4"]),
        helper.make_node("Div", ["row4", "cells"], ["per_cell"]),
        helper.make_node("Expand", ["per_cell", "grad_shape"], ["gradients"]),
        helper.make_node("Identity", ["features"], ["activations"]),
    ]
    inits += [
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "row_shape"),
        numpy_helper.from_array(np.array([16.0], np.float32), "cells"),
        numpy_helper.from_array(np.array([1, 3, 4, 4], np.int64), "grad_shape"),
    ]
    graph = helper.make_graph(
        nodes, "quadrant_gradients",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIDE, SIDE]),
         helper.make_tensor_value_info("class_weights", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2]),
         helper.make_tensor_value_info("activations", TensorProto.FLOAT, [1, 3, 4, 4]),
         helper.make_tensor_value_info("gradients", TensorProto.FLOAT, [1, 3, 4, 4])],
        initializer=inits,
    )  # fmt: skip
    return _save(graph, path)


def fire_manifest() -> FireManifest:
    return FireManifest(
        version="tiny",
        labels=["fire", "smoke"],
        input_size=SIDE,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        feature_stride=CELL,
        thresholds={"fire": 0.5, "smoke": 0.5},
        head={"weight": HEAD.tolist(), "bias": BIAS.tolist()},
        files={"fp32": "quadrant.onnx"},
    )


def fire_model(tmp: Path) -> FireModel:
    return FireModel(fire_manifest(), OrtFireBackend(quadrant_classifier(tmp / "quadrant.onnx")))


def gradient_session(tmp: Path) -> ModelSession:
    path = quadrant_gradients(tmp / "quadrant_gradcam.onnx")
    manifest = ModelManifest(
        name="tiny_gradcam", version="1", task="other", family="generic",
        inputs=[InputSpec(name="input", shape=[1, 3, SIDE, SIDE]),
                InputSpec(name="class_weights", shape=[1, 2])],
        outputs=[TensorSpec(name="scores", shape=[1, 2]),
                 TensorSpec(name="activations", shape=[1, 3, 4, 4]),
                 TensorSpec(name="gradients", shape=[1, 3, 4, 4])],
    )  # fmt: skip
    return ModelSession(path, manifest)


# -- a detector whose one box's objectness is the top-left quadrant's brightness -------------

DETECTOR_ROWS = (SIDE // 8) ** 2 + (SIDE // 16) ** 2 + (SIDE // 32) ** 2  # 16 + 4 + 1
BOX_ROW = 15  # stride 8, cell (3, 3): the box sits at the bottom-right
DETECTOR_LABELS = ["thing", "other"]


def _detector_base() -> tuple[np.ndarray, np.ndarray]:
    """Constant raw rows, and where the brightness goes (objectness of ``BOX_ROW``)."""
    base = np.zeros((1, DETECTOR_ROWS, 7), np.float32)
    base[..., 2:4] = math.log(0.5)  # small boxes elsewhere, objectness 0
    # row 15 = cell (x=3, y=3) of stride 8: centre (0 + 3) * 8 = 24, side exp(log 2) * 8 = 16,
    # so the box is [16, 16, 32, 32]: the bottom-right quadrant
    base[0, BOX_ROW, 2:4] = math.log(2.0)
    base[0, BOX_ROW, 5] = 1.0  # class "thing"
    where = np.zeros((1, DETECTOR_ROWS, 7), np.float32)
    where[0, BOX_ROW, 4] = 1.0
    return base, where


def quadrant_detector(path: Path) -> Path:
    """YOLOX-format (1, 21, 7) output, sigmoid applied: one box at the bottom-right quadrant
    whose objectness is the mean of the top-left quadrant's pixels / 255."""
    base, where = _detector_base()
    h = SIDE // 2
    nodes = [
        helper.make_node("Slice", ["images", "starts", "ends", "axes"], ["tl"]),
        helper.make_node("ReduceMean", ["tl"], ["m"], axes=[1, 2, 3], keepdims=1),  # (1,1,1,1)
        helper.make_node("Div", ["m", "full"], ["m01"]),
        helper.make_node("Reshape", ["m01", "scalar3"], ["s"]),  # (1, 1, 1)
        helper.make_node("Mul", ["s", "where"], ["lit"]),
        helper.make_node("Add", ["base", "lit"], ["output"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0, 0], np.int64), "starts"),
        numpy_helper.from_array(np.array([h, h], np.int64), "ends"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(np.array([255.0], np.float32), "full"),
        numpy_helper.from_array(np.array([1, 1, 1], np.int64), "scalar3"),
        numpy_helper.from_array(base, "base"),
        numpy_helper.from_array(where, "where"),
    ]
    graph = helper.make_graph(
        nodes, "quadrant_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, DETECTOR_ROWS, 7])],
        initializer=inits,
    )  # fmt: skip
    return _save(graph, path)


def detector_session(tmp: Path) -> ModelSession:
    path = quadrant_detector(tmp / "quadrant_detector.onnx")
    manifest = ModelManifest(
        name="tiny_detector", version="1", task="object_detection", family="yolox",
        inputs=[InputSpec(name="images", shape=[1, 3, SIDE, SIDE], layout="NCHW", color="BGR",
                          resize="letterbox_top_left", pad_value=114)],
        outputs=[TensorSpec(name="output", shape=[1, DETECTOR_ROWS, 7])],
        labels=DETECTOR_LABELS,
        decoding=YoloxDecoding(strides=[8, 16, 32], num_classes=2, sigmoid_applied=True),
    )  # fmt: skip
    return ModelSession(path, manifest)


# -- an embedder that only sees the top-left quadrant -----------------------------------------


def quadrant_embedder(path: Path, side: int = SIDE) -> Path:
    """(1, 3, side, side) -> (1, 3): the top-left quadrant's mean per channel, plus 0.1."""
    h = side // 2
    nodes = [
        helper.make_node("Slice", ["input0", "starts", "ends", "axes"], ["tl"]),
        helper.make_node("ReduceMean", ["tl"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Add", ["m", "offset"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0, 0], np.int64), "starts"),
        numpy_helper.from_array(np.array([h, h], np.int64), "ends"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(np.array([0.1, 0.1, 0.1], np.float32), "offset"),
    ]
    graph = helper.make_graph(
        nodes, "quadrant_embedder",
        [helper.make_tensor_value_info("input0", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3])],
        initializer=inits,
    )  # fmt: skip
    return _save(graph, path)


def textured_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Bright noise everywhere: nothing but the models' wiring singles out a quadrant."""
    rng = np.random.default_rng(seed)
    return rng.integers(150, 256, (height, width, 3), dtype=np.uint8)
