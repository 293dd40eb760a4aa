"""The workshop's Grad-CAM export (torch autograd at export time) on a tiny classifier that only
reads the top-left quadrant: the gradients match autograd, and the node's Grad-CAM computed from
the exported graph with ONNX Runtime alone points at that quadrant."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.explain.explainer import Explainer, ExplainModels, ExplainRequest
from node.fire.model import FireModel, OrtFireBackend
from node.inference.session import ModelSession
from schemas.manifest import InputSpec, ModelManifest, TensorSpec
from tests.explain.tiny_models import SIDE, fire_manifest, textured_image

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


class TopLeftNet(torch.nn.Module):  # type: ignore[misc]
    """conv (stride 2) -> ReLU6 -> depthwise conv (stride 2) -> ReLU6 -> 1x1 conv -> ReLU6,
    features masked to the top-left quadrant, global mean, linear head, sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c1 = torch.nn.Conv2d(3, 8, 3, 2, 1)
        self.c2 = torch.nn.Conv2d(8, 8, 3, 2, 1, groups=8)
        self.c3 = torch.nn.Conv2d(8, 3, 1)
        self.head = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
        mask = torch.zeros(1, 1, SIDE // 4, SIDE // 4)
        mask[..., : SIDE // 8, : SIDE // 8] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.clamp(self.c1(x), 0, 6)
        a = torch.clamp(self.c2(a), 0, 6)
        features = torch.clamp(self.c3(a), 0, 6) * self.mask
        return torch.sigmoid(self.head(features.mean((2, 3)))), features


def _export_classifier(path: Path) -> None:
    torch.onnx.export(
        TopLeftNet().eval(), (torch.zeros(1, 3, SIDE, SIDE),), str(path),
        input_names=["input"], output_names=["scores", "features"], opset_version=17,
        dynamo=False, dynamic_axes={"input": {0: "n"}, "scores": {0: "n"}, "features": {0: "n"}},
    )  # fmt: skip


def test_exported_gradients_match_autograd_and_point_at_the_evidence(tmp_path: Path) -> None:
    from models.explain.gradcam_export import check_export, export_gradcam

    source, out = tmp_path / "net.onnx", tmp_path / "net_gradcam.onnx"
    _export_classifier(source)
    spec = export_gradcam(source, out, layer="features")  # the masked feature map
    model = FireModel(fire_manifest(), OrtFireBackend(source))
    images = [model.input_for(textured_image(48, 40, seed=s)) for s in range(3)]
    check = check_export(source, out, spec, images)
    assert check.gradient_max_abs <= 1e-5 * max(check.gradient_scale, 1e-6)
    assert check.score_max_abs <= 1e-5 and check.map_relative <= 1e-4

    manifest = ModelManifest(
        name="net_gradcam", version="1", task="other", family="generic",
        inputs=[InputSpec(name="input", shape=[1, 3, SIDE, SIDE]),
                InputSpec(name="class_weights", shape=[1, 2])],
        outputs=[TensorSpec(name="scores", shape=[1, 2]),
                 TensorSpec(name="activations", shape=[1, 3, 8, 8]),
                 TensorSpec(name="gradients", shape=[1, 3, 8, 8])],
    )  # fmt: skip
    session = ModelSession(out, manifest)  # the node's session: no torch from here on
    explainer = Explainer(ExplainModels(fire=lambda: model, fire_gradcam=lambda: session))
    e = explainer.explain(textured_image(48, 40), ExplainRequest("fire", "gradcam", "fire"))
    x, y = e.peak
    assert x < 24 and y < 20, e.peak
    assert e.masks == 1


def test_export_refuses_a_graph_with_ops_it_cannot_run(tmp_path: Path) -> None:
    from models.explain.gradcam_export import OnnxModule

    class Pooled(torch.nn.Module):  # type: ignore[misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(torch.nn.functional.max_pool2d(x, 2).mean((1, 2, 3)))

    path = tmp_path / "pooled.onnx"
    torch.onnx.export(Pooled(), (torch.zeros(1, 3, 8, 8),), str(path), opset_version=17,
                      dynamo=False)  # fmt: skip
    import onnx

    with pytest.raises(ValueError, match=r"cannot run ops \['MaxPool'\]"):
        OnnxModule(onnx.load(str(path)))


def test_unknown_layer_is_named(tmp_path: Path) -> None:
    from models.explain.gradcam_export import export_gradcam

    source = tmp_path / "net.onnx"
    _export_classifier(source)
    with pytest.raises(ValueError, match="layer 'nope' is not a tensor of the graph"):
        export_gradcam(source, tmp_path / "x.onnx", layer="nope")
