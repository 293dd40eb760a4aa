"""Export a classifier's Grad-CAM graph: activations of a chosen layer and the gradient of a class
logit with respect to them, so the node computes Grad-CAM with ONNX Runtime only.

The gradient is made by torch autograd at export time. The classifier is read from its shipped
ONNX file (no checkpoint needed: the FP32 graph holds the weights, BatchNorm already folded) into
``OnnxModule``, a torch module that runs the graph node by node. The forward pass cuts the graph
at the target layer (``detach().requires_grad_()``), continues to the logits, takes
``torch.autograd.grad`` of ``sum(logits * class_weights)`` with ``create_graph=True``, and the
legacy exporter traces the whole thing, backward included, into one ONNX graph.

One wrinkle: the tracer cannot record ``convolution_backward`` (ONNX has no such op), so
convolutions go through ``TraceableConv2d``, an ``autograd.Function`` whose backward for the input
is the transposed convolution: ONNX's ``ConvTranspose``. Everything else (Clip, Add, ReduceMean,
Gemm) has an ordinary traced backward. ``check_export`` compares the graph's gradients with plain
autograd on the same module and its scores with the source model under ONNX Runtime.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F  # noqa: N812
from onnx import numpy_helper

SUPPORTED_OPS = {"Conv", "Clip", "Relu", "Add", "Mul", "ReduceMean", "GlobalAveragePool",
                 "Flatten", "Gemm", "Sigmoid", "Constant", "Identity"}  # fmt: skip
GRADCAM_INPUTS = ("input", "class_weights")
GRADCAM_OUTPUTS = ("scores", "activations", "gradients")
OPSET = 17


class TraceableConv2d(torch.autograd.Function):
    """``F.conv2d`` whose input gradient is written as a transposed convolution, which the ONNX
    tracer can export (the built-in ``convolution_backward`` it cannot)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
        stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
        groups: int,
    ) -> torch.Tensor:  # fmt: skip
        ctx.save_for_backward(weight)
        ctx.conf = (stride, padding, dilation, groups, tuple(x.shape))
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (weight,) = ctx.saved_tensors
        stride, padding, dilation, groups, shape = ctx.conf
        k = weight.shape[-2:]
        # the rows/columns the forward's floor division dropped come back as output padding
        extra = tuple(
            shape[2 + i] - ((grad.shape[2 + i] - 1) * stride[i] - 2 * padding[i]
                            + dilation[i] * (k[i] - 1) + 1)
            for i in range(2)
        )  # fmt: skip
        grad_in = F.conv_transpose2d(grad, weight, None, stride, padding, extra, groups, dilation)
        return grad_in, None, None, None, None, None, None


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxModule(torch.nn.Module):
    """A torch module that runs an ONNX classifier graph built from ``SUPPORTED_OPS``."""

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        g = model.graph
        unsupported = sorted({n.op_type for n in g.node} - SUPPORTED_OPS)
        if unsupported:
            raise ValueError(f"cannot run ops {unsupported} (supported: {sorted(SUPPORTED_OPS)})")
        self.nodes = list(g.node)
        self.input_name = g.input[0].name
        self.output_names = [o.name for o in g.output]
        self._consts: dict[str, str] = {}
        for i, init in enumerate(g.initializer):
            self._register(f"c{i}", init.name, numpy_helper.to_array(init))
        for i, node in enumerate(g.node):
            if node.op_type == "Constant":
                value = numpy_helper.to_array(_attrs(node)["value"])
                self._register(f"k{i}", node.output[0], value)

    def _register(self, key: str, name: str, value: np.ndarray) -> None:
        self.register_buffer(key, torch.from_numpy(np.array(value)))
        self._consts[name] = key

    def run(
        self, x: torch.Tensor, cut: str | None = None, stop: str | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """All tensors by name; the ``cut`` tensor is replaced by a fresh leaf that requires
        grad (returned), and evaluation ends once ``stop`` is computed."""
        env: dict[str, torch.Tensor] = {self.input_name: x}
        leaf = None
        for node in self.nodes:
            if node.op_type == "Constant":
                continue
            args = [self._get(env, n) if n else None for n in node.input]
            out = _apply(node, args)
            if node.output[0] == cut:
                out = out.detach().requires_grad_(True)
                leaf = out
            env[node.output[0]] = out
            if node.output[0] == stop:
                break
        return env, leaf

    def _get(self, env: dict[str, torch.Tensor], name: str) -> torch.Tensor:
        if name in env:
            return env[name]
        buffer: torch.Tensor = getattr(self, self._consts[name])
        return buffer

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        env, _ = self.run(x)
        return [env[n] for n in self.output_names]


def _apply(node: onnx.NodeProto, a: list[Any]) -> torch.Tensor:
    op, at = node.op_type, _attrs(node)
    if op == "Conv":
        pads = at.get("pads", [0, 0, 0, 0])
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise ValueError(f"{node.name}: asymmetric padding {pads} is not supported")
        return TraceableConv2d.apply(
            a[0], a[1], a[2] if len(a) > 2 else None, tuple(at.get("strides", [1, 1])),
            (pads[0], pads[1]), tuple(at.get("dilations", [1, 1])), at.get("group", 1),
        )  # type: ignore[no-any-return]  # fmt: skip
    if op == "Clip":
        lo = a[1] if len(a) > 1 and a[1] is not None else None
        hi = a[2] if len(a) > 2 and a[2] is not None else None
        return torch.clamp(a[0], float(lo) if lo is not None else None,
                           float(hi) if hi is not None else None)  # fmt: skip
    if op == "Relu":
        return torch.relu(a[0])
    if op == "Add":
        return a[0] + a[1]
    if op == "Mul":
        return a[0] * a[1]
    if op == "ReduceMean":
        axes = at.get("axes") or (a[1].tolist() if len(a) > 1 else None)
        return a[0].mean(dim=tuple(axes), keepdim=bool(at.get("keepdims", 1)))
    if op == "GlobalAveragePool":
        return a[0].mean(dim=(2, 3), keepdim=True)
    if op == "Flatten":
        return torch.flatten(a[0], int(at.get("axis", 1)))
    if op == "Gemm":
        w = a[1].t() if at.get("transB", 0) else a[1]
        x = a[0].t() if at.get("transA", 0) else a[0]
        out = at.get("alpha", 1.0) * (x @ w)
        return out + at.get("beta", 1.0) * a[2] if len(a) > 2 and a[2] is not None else out
    if op == "Sigmoid":
        return torch.sigmoid(a[0])
    if op == "Identity":
        return a[0]
    raise ValueError(f"unsupported op {op}")


@dataclass(frozen=True)
class GradCamSpec:
    """Where to cut (``layer``: a tensor of the graph) and which tensors are the logits and the
    scores (the classifier's output, e.g. after the sigmoid)."""

    layer: str
    logits: str
    scores: str = "scores"


def find_logits(model: onnx.ModelProto, scores: str = "scores") -> str:
    """The tensor the final activation turns into ``scores`` (its input)."""
    for node in model.graph.node:
        if scores in node.output and node.op_type in {"Sigmoid", "Softmax"}:
            return str(node.input[0])
    raise ValueError(f"no Sigmoid/Softmax produces {scores!r}: name the logits tensor")


class GradCamGraph(torch.nn.Module):
    """``(input, class_weights) -> (scores, activations, gradients)`` for one image."""

    def __init__(self, net: OnnxModule, spec: GradCamSpec) -> None:
        super().__init__()
        self.net = net
        self.spec = spec

    def forward(
        self, x: torch.Tensor, class_weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        env, leaf = self.net.run(x, cut=self.spec.layer, stop=None)
        if leaf is None:
            raise ValueError(f"layer {self.spec.layer!r} is not a tensor of the graph")
        logits = env[self.spec.logits]
        (grad,) = torch.autograd.grad((logits * class_weights).sum(), leaf, create_graph=True)
        return env[self.spec.scores], leaf, grad


def load_module(path: Path) -> tuple[OnnxModule, onnx.ModelProto]:
    model = onnx.load(str(path))
    net = OnnxModule(model).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, model


def input_shape(model: onnx.ModelProto) -> tuple[int, int, int]:
    dims = model.graph.input[0].type.tensor_type.shape.dim[1:]
    c, h, w = (int(d.dim_value) for d in dims)
    return c, h, w


def export_gradcam(source: Path, out: Path, layer: str, logits: str | None = None) -> GradCamSpec:
    """Write the Grad-CAM graph of the classifier ``source`` to ``out`` (batch 1)."""
    net, model = load_module(source)
    spec = GradCamSpec(layer=layer, logits=logits or find_logits(model))
    graph = GradCamGraph(net, spec).eval()
    c, h, w = input_shape(model)
    classes = int(model.graph.output[0].type.tensor_type.shape.dim[1].dim_value)
    example = (torch.zeros(1, c, h, w), torch.zeros(1, classes))
    with warnings.catch_warnings():  # the Clip bounds become constants, as they should
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            graph, example, str(out), input_names=list(GRADCAM_INPUTS),
            output_names=list(GRADCAM_OUTPUTS), opset_version=OPSET, dynamo=False,
            do_constant_folding=True,
        )  # fmt: skip
    return spec


@dataclass(frozen=True)
class ExportCheck:
    gradient_max_abs: float  # exported graph vs autograd on the torch module
    gradient_scale: float  # max |gradient| (what the error is relative to)
    activation_max_abs: float
    score_max_abs: float  # exported graph vs the source model under ONNX Runtime
    # Grad-CAM maps from both, max |diff| / max |map|: what the node shows. A single gradient may
    # differ more where ONNX Runtime's and torch's round-off put an activation on the other side
    # of a ReLU6 bound; the map averages that away.
    map_relative: float


def check_export(
    source: Path, exported: Path, spec: GradCamSpec, images: Sequence[np.ndarray]
) -> ExportCheck:
    """Run ``images`` (1, C, H, W float32 model inputs) through the exported graph, the torch
    module with plain autograd, and the source model; report the largest differences."""
    from node.inference.session import SessionOptions, open_session

    net, model = load_module(source)
    classes = int(model.graph.output[0].type.tensor_type.shape.dim[1].dim_value)
    cpu = SessionOptions(intra_op_threads=1, providers=("cpu",))
    ours, src = open_session(exported, cpu), open_session(source, cpu)
    from node.explain.gradcam import grad_cam

    g_err = a_err = s_err = scale = m_err = 0.0
    for x in images:
        for k in range(classes):
            weights = np.zeros((1, classes), np.float32)
            weights[0, k] = 1.0
            scores, act, grad = ours.run(None, {"input": x, "class_weights": weights})
            env, leaf = net.run(torch.from_numpy(x), cut=spec.layer)
            assert leaf is not None
            (ref,) = torch.autograd.grad(env[spec.logits][0, k], leaf)
            g_err = max(g_err, float(np.abs(grad - ref.numpy()).max()))
            scale = max(scale, float(np.abs(ref.numpy()).max()))
            want = grad_cam(leaf.detach().numpy()[0], ref.numpy()[0])
            got = grad_cam(act[0], grad[0])
            m_err = max(m_err, float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)))
            a_err = max(a_err, float(np.abs(act - leaf.detach().numpy()).max()))
            expected = src.run([spec.scores], {model.graph.input[0].name: x})[0]
            s_err = max(s_err, float(np.abs(scores - expected).max()))
    return ExportCheck(g_err, scale, a_err, s_err, m_err)
