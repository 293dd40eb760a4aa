"""YOLOX-nano in torch, with its weights imported from the pinned ``yolox_nano.onnx``.

Why this route: no YOLOX training library installs offline here (``yolox`` is not on the package
lists; ultralytics has no YOLOX), and upstream ``.pth`` checkpoints are not reachable. The ONNX
file *is* the COCO checkpoint with BatchNorm folded into each convolution, so the network is
rebuilt here (the layer shapes of Megvii's ``yolox/models`` at depth 0.33, width 0.25,
depthwise) with biased convolutions and no BatchNorm, and every ``Conv`` initialiser is copied
in the order the graph executes them. Parity with ONNX Runtime is checked on a real image
(:func:`parity`); fine-tuning then starts from COCO knowledge.

Output contract (``forward``): ``(N, A, 5 + C)`` rows ``[x, y, w, h, obj, cls...]`` with *raw*
(pre-sigmoid) obj/cls logits, as the loss needs; :class:`ExportWrapper` applies the sigmoid so the
exported graph matches the node's ``sigmoid_applied: true`` decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

COCO_PERSON, COCO_KNIFE = 0, 43
# what MergedDetector's two paths share (frozen in training): "top" = CSPDarknet + neck_top (v2),
# "dark4" = stem .. dark4 (suspect path trains dark5 + neck), "dark3" = stem .. dark3 (v3 runs
# that train dark4 + dark5 + neck)
SHARED_PARTS = ("top", "dark4", "dark3")


class Conv(nn.Module):
    """Conv (BatchNorm folded in, so biased) + SiLU, like YOLOX ``BaseConv`` after fusion."""

    def __init__(self, cin: int, cout: int, k: int, s: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=True)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class DWConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, s: int = 1) -> None:
        super().__init__()
        self.dconv = Conv(cin, cin, k, s, groups=cin)
        self.pconv = Conv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, shortcut: bool) -> None:
        super().__init__()
        self.conv1 = Conv(cin, cout, 1)
        self.conv2 = DWConv(cout, cout, 3)
        self.use_add = shortcut and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    def __init__(self, cin: int, cout: int, n: int, shortcut: bool = True) -> None:
        super().__init__()
        hidden = cout // 2
        self.conv1 = Conv(cin, hidden, 1)
        self.conv2 = Conv(cin, hidden, 1)
        self.conv3 = Conv(2 * hidden, cout, 1)
        self.m = nn.Sequential(*[Bottleneck(hidden, hidden, shortcut) for _ in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = self.conv2(x)
        return self.conv3(torch.cat((self.m(x1), x2), dim=1))


class SPPBottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, ks: Sequence[int] = (5, 9, 13)) -> None:
        super().__init__()
        hidden = cin // 2
        self.conv1 = Conv(cin, hidden, 1)
        self.m = nn.ModuleList([nn.MaxPool2d(k, 1, k // 2) for k in ks])
        self.conv2 = Conv(hidden * (len(ks) + 1), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [m(x) for m in self.m], dim=1))


class Focus(nn.Module):
    """Space-to-depth (the 2x2 pixel phases stacked as channels), then a 3x3 conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = Conv(cin * 4, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tl, tr = x[..., ::2, ::2], x[..., ::2, 1::2]
        bl, br = x[..., 1::2, ::2], x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


class Backbone(nn.Module):
    """CSPDarknet at width 0.25 / depth 0.33 plus YOLOX's PAFPN (depthwise)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Focus(3, 16)
        self.dark2 = nn.Sequential(DWConv(16, 32, 3, 2), CSPLayer(32, 32, 1))
        self.dark3 = nn.Sequential(DWConv(32, 64, 3, 2), CSPLayer(64, 64, 3))
        self.dark4 = nn.Sequential(DWConv(64, 128, 3, 2), CSPLayer(128, 128, 3))
        self.dark5 = nn.Sequential(
            DWConv(128, 256, 3, 2), SPPBottleneck(256, 256), CSPLayer(256, 256, 1, False)
        )
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral_conv0 = Conv(256, 128, 1)
        self.C3_p4 = CSPLayer(256, 128, 1, False)
        self.reduce_conv1 = Conv(128, 64, 1)
        self.C3_p3 = CSPLayer(128, 64, 1, False)
        self.bu_conv2 = DWConv(64, 64, 3, 2)
        self.C3_n3 = CSPLayer(128, 128, 1, False)
        self.bu_conv1 = DWConv(128, 128, 3, 2)
        self.C3_n4 = CSPLayer(256, 256, 1, False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.neck(*self.darknet(x))

    def darknet(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """CSPDarknet features at strides 8, 16, 32 (what training caches when it is frozen)."""
        c3 = self.dark3(self.dark2(self.stem(x)))
        c4 = self.dark4(c3)
        return c3, c4, self.dark5(c4)

    def neck(
        self, c3: torch.Tensor, c4: torch.Tensor, c5: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.neck_rest(c3, *self.neck_top(c4, c5))

    def neck_top(self, c4: torch.Tensor, c5: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first top-down step (``lateral_conv0``, ``C3_p4``): shared by the merged model's
        two paths, so frozen (and cached) in training."""
        fpn_out0 = self.lateral_conv0(c5)
        return fpn_out0, self.C3_p4(torch.cat((self.up(fpn_out0), c4), dim=1))

    def neck_rest(
        self, c3: torch.Tensor, fpn_out0: torch.Tensor, f_out0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat((self.up(fpn_out1), c3), dim=1))
        pan_out1 = self.C3_n3(torch.cat((self.bu_conv2(pan_out2), fpn_out1), dim=1))
        pan_out0 = self.C3_n4(torch.cat((self.bu_conv1(pan_out1), fpn_out0), dim=1))
        return pan_out2, pan_out1, pan_out0


class Head(nn.Module):
    """Decoupled YOLOX head: per level a stem, 2 cls convs, 2 reg convs, cls/reg/obj 1x1 preds."""

    def __init__(self, num_classes: int, in_channels: Sequence[int] = (64, 128, 256)) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stems = nn.ModuleList([Conv(c, 64, 1) for c in in_channels])
        self.cls_convs = nn.ModuleList(
            [nn.Sequential(DWConv(64, 64, 3), DWConv(64, 64, 3)) for _ in in_channels]
        )
        self.reg_convs = nn.ModuleList(
            [nn.Sequential(DWConv(64, 64, 3), DWConv(64, 64, 3)) for _ in in_channels]
        )
        self.cls_preds = nn.ModuleList([nn.Conv2d(64, num_classes, 1) for _ in in_channels])
        self.reg_preds = nn.ModuleList([nn.Conv2d(64, 4, 1) for _ in in_channels])
        self.obj_preds = nn.ModuleList([nn.Conv2d(64, 1, 1) for _ in in_channels])

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        outs = []
        for k, x in enumerate(feats):
            x = self.stems[k](x)
            cls = self.cls_preds[k](self.cls_convs[k](x))
            reg_feat = self.reg_convs[k](x)
            out = torch.cat((self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat), cls), 1)
            outs.append(out.flatten(start_dim=2))
        return torch.cat(outs, dim=2).permute(0, 2, 1)


class YoloxNano(nn.Module):
    strides = (8, 16, 32)

    def __init__(self, num_classes: int = 80) -> None:
        super().__init__()
        self.backbone = Backbone()
        self.head = Head(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """BGR 0-255 NCHW in; raw rows ``[x, y, w, h, obj_logit, cls_logits...]`` out."""
        return self.head(self.backbone(x))


class ExportWrapper(nn.Module):
    """The deployed graph: sigmoid on obj/cls, like the pinned ``yolox_nano.onnx``."""

    def __init__(self, net: YoloxNano) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return torch.cat((out[..., :4], out[..., 4:].sigmoid()), dim=-1)


class MergedDetector(nn.Module):
    """One graph, two detectors on one darknet: YOLOX-nano's own person predictions and the
    fine-tuned suspect head, rows concatenated (the deployed ``suspect_yolox``).

    ``shared`` says which part both paths run once: ``"top"`` (v2) the CSPDarknet and the first
    top-down neck step (:meth:`Backbone.neck_top`); ``"dark4"`` / ``"dark3"`` the darknet up to
    that stage, the suspect path then running its own trained later stages and whole neck. The
    shared part is frozen in training, so running the *original* rest of the neck and head on
    it reproduces the pinned YOLOX-nano exactly (up to float summation order; ``export.py
    --fp16-weights`` stores the weights as float16, which moves it slightly). Output
    ``(1, 2A, 5 + 1 + S)``, sigmoid applied, columns
    ``[x, y, w, h, obj, person, suspect classes...]``:

    * rows ``0..A-1``: YOLOX-nano's boxes and objectness; ``person`` is its person probability
      where person is the cell's best of the 80 COCO classes (what the node reports when it runs
      ``yolox_nano`` and keeps ``person``), else 0; suspect columns 0;
    * rows ``A..2A-1``: the fine-tuned head's boxes, objectness and suspect classes; person 0.

    The node's YOLOX decoder reads this with ``strides: [8, 16, 32, 8, 16, 32]`` (one grid per
    head, in row order); its argmax + class-aware NMS then never mixes the two heads.
    """

    def __init__(self, coco: YoloxNano, suspect: YoloxNano, shared: str = "top") -> None:
        super().__init__()
        if coco.head.num_classes != 80:
            raise ValueError("coco must be the 80-class YOLOX-nano")
        if shared not in SHARED_PARTS:
            raise ValueError(f"shared must be one of {SHARED_PARTS}, not {shared!r}")
        self.coco = coco
        self.suspect = suspect
        self.shared = shared

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bb, sb = self.coco.backbone, self.suspect.backbone
        c3, c4, c5 = bb.darknet(x)
        top = bb.neck_top(c4, c5)
        p = self.coco.head(bb.neck_rest(c3, *top))
        if self.shared == "top":  # v2: darknet and neck_top shared
            s = self.suspect.head(sb.neck_rest(c3, *top))
        else:  # v3: the suspect path's own dark5 (and dark4) and neck
            c4s = c4 if self.shared == "dark4" else sb.dark4(c3)
            s = self.suspect.head(sb.neck(c3, c4s, sb.dark5(c4s)))
        cls80 = p[..., 5:].sigmoid()
        person = cls80[..., :1]
        person = person * (person >= cls80.max(dim=-1, keepdim=True).values).to(person.dtype)
        rows_p = torch.cat(
            (p[..., :4], p[..., 4:5].sigmoid(), person, torch.zeros_like(s[..., 5:])), dim=-1
        )
        rows_s = torch.cat(
            (s[..., :4], s[..., 4:5].sigmoid(), torch.zeros_like(person), s[..., 5:].sigmoid()),
            dim=-1,
        )
        return torch.cat((rows_p, rows_s), dim=1)


def _execution_order(net: nn.Module, input_hw: tuple[int, int]) -> list[nn.Conv2d]:
    """Every Conv2d in the order forward() calls it (the order the ONNX export traced)."""
    order: list[nn.Conv2d] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(mod))  # type: ignore[arg-type]
        for m in net.modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        net(torch.zeros(1, 3, *input_hw))
    for h in hooks:
        h.remove()
    return order


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def load_onnx_weights(onnx_path: Path) -> YoloxNano:
    """An 80-class :class:`YoloxNano` holding the ONNX file's (BatchNorm-folded) weights."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    conv_nodes = [n for n in model.graph.node if n.op_type == "Conv"]
    net = YoloxNano(80)
    convs = _execution_order(net, (64, 64))
    if len(convs) != len(conv_nodes):
        raise ValueError(f"{onnx_path}: {len(conv_nodes)} Conv nodes, torch has {len(convs)}")
    for i, (mod, node) in enumerate(zip(convs, conv_nodes, strict=True)):
        w = inits[node.input[1]]
        if tuple(w.shape) != tuple(mod.weight.shape):
            raise ValueError(f"conv #{i} ({node.name}): ONNX {w.shape} vs torch {mod.weight.shape}")
        mod.weight.data = torch.from_numpy(w.copy())
        assert mod.bias is not None
        mod.bias.data = torch.from_numpy(inits[node.input[2]].copy())
    return net.eval()


def with_classes(coco: YoloxNano, classes: Sequence[str], prior: float = 0.01) -> YoloxNano:
    """A copy of ``coco`` with a new class list; classes COCO knows keep their COCO predictor."""
    from node.detect.labels import COCO80

    net = YoloxNano(len(classes))
    state = {k: v for k, v in coco.state_dict().items() if "cls_preds" not in k}
    net.load_state_dict(state, strict=False)
    bias_prior = float(_logit(np.array(prior)))
    for k, pred in enumerate(net.head.cls_preds):
        src = coco.head.cls_preds[k]
        nn.init.normal_(pred.weight, 0.0, 0.01)
        nn.init.constant_(pred.bias, bias_prior)
        with torch.no_grad():
            for j, name in enumerate(classes):
                if name in COCO80:
                    c = COCO80.index(name)
                    pred.weight[j] = src.weight[c]
                    pred.bias[j] = src.bias[c]
    return net


def parity(onnx_path: Path, image_bgr: np.ndarray, input_size: int = 416) -> float:
    """Max abs difference between ONNX Runtime and the torch import on one letterboxed image."""
    import onnxruntime as ort

    from node.detect.preprocess import preprocess

    tensor = preprocess(image_bgr, (input_size, input_size)).tensor
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {sess.get_inputs()[0].name: tensor})[0]
    net = ExportWrapper(load_onnx_weights(onnx_path)).eval()
    with torch.no_grad():
        out = net(torch.from_numpy(tensor)).numpy()
    return float(np.abs(out - ref).max())
