"""Export the trained fire/smoke network to ONNX and write its manifest (``fire_cls.json``).

Legacy TorchScript-based exporter (``dynamo=False``), opset 17, dynamic batch. Two outputs:
``scores`` (sigmoid, N x 2) and ``features`` (N x 256 x H/s x W/s, s = the cut's stride: 16 for
fire@3's, 32 for fire@4's; the manifest's ``feature_stride``) for the node's CAM. The head
weights go into the manifest so the node computes the CAM in numpy. A parity check compares the
node's numpy pre-processing + ONNX Runtime + numpy CAM with torch on real images (max abs 1e-4).

    python -m models.fire.export --checkpoint runs/fire/fire_best.pt --out models/fire \\
        --train-report runs/fire/train_report.json \\
        --images ../shared/datasets/fire_smoke/valid/images
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import torch

from models.fire.data import CLASSES, list_images
from models.fire.net import FireNet, blocks_in
from node.fire.cam import class_activation_map
from node.fire.preprocess import IMAGENET_MEAN, IMAGENET_STD, preprocess

OPSET = 17
FP32_NAME = "fire_fp32.onnx"
INT8_NAME = "fire_int8.onnx"
MANIFEST_NAME = "fire_cls.json"
PARITY_TOL = 1e-4
DATA_ATTRIBUTION = (
    "Roboflow Universe 'fire-wrpgm' v8 (custom-thxhn), CC BY 4.0, "
    "https://universe.roboflow.com/custom-thxhn/fire-wrpgm/dataset/8; hard negatives: "
    "Roboflow 'FPV drone detection and tracking' images (Public Domain)"
)


def load_net(checkpoint: Path) -> FireNet:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    net = FireNet(blocks_in(state))
    net.load_state_dict(state)
    net.eval()
    return net


def export_module(module: torch.nn.Module, path: Path, input_size: int) -> None:
    """Any module with the node's contract (``input`` -> ``scores``, ``features``) to ONNX."""
    dummy = torch.zeros(1, 3, input_size, input_size)
    torch.onnx.export(
        module.eval(),
        (dummy,),
        str(path),
        dynamo=False,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["scores", "features"],
        dynamic_axes={"input": {0: "batch"}, "scores": {0: "batch"}, "features": {0: "batch"}},
        do_constant_folding=True,
    )


def export_onnx(net: FireNet, path: Path, input_size: int) -> None:
    from models.fire.net import ExportWrapper

    export_module(ExportWrapper(net), path, input_size)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(
    net: FireNet,
    out_dir: Path,
    input_size: int,
    thresholds: dict[str, float],
    version: str,
) -> Path:
    files = {"fp32": FP32_NAME}
    if (out_dir / INT8_NAME).exists():
        files["int8"] = INT8_NAME
    manifest = {
        "name": "fire",
        "version": version,
        "labels": list(CLASSES),
        "input_name": "input",
        "input_size": input_size,
        "color": "RGB",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "feature_stride": net.feature_stride,
        "thresholds": thresholds,
        "head": {
            "weight": net.head.weight.detach().double().numpy().round(7).tolist(),
            "bias": net.head.bias.detach().double().numpy().round(7).tolist(),
        },
        "files": files,
        "sha256": {f: sha256_of(out_dir / f) for f in files.values()},
        "license": "Apache-2.0 (weights derived from torchvision MobileNetV2, BSD-3-Clause)",
        "data": DATA_ATTRIBUTION,
    }
    path = out_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def parity(net: FireNet, onnx_path: Path, images: Sequence[Path], input_size: int) -> dict[
    str, float
]:
    """Max abs differences torch vs (numpy pre-processing + ORT + numpy CAM) on real images."""
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    w = net.head.weight.detach().numpy().astype(np.float32)
    b = net.head.bias.detach().numpy().astype(np.float32)
    worst = {"scores": 0.0, "features": 0.0, "cam": 0.0}
    for p in images:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot decode {p}")
        x = preprocess(img, input_size)
        ort_scores, ort_feats = sess.run(["scores", "features"], {"input": x})
        # torch side: its own tensor pipeline from the same decoded pixels
        small = cv2.resize(img, (input_size, input_size), interpolation=cv2.INTER_AREA)
        t = torch.from_numpy(small)
        t = t.flip(-1).permute(2, 0, 1).float().div(255.0)
        t = (t - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[
            :, None, None
        ]
        with torch.no_grad():
            logits, feats = net(t[None])
            cam_t = torch.einsum("kc,chw->khw", net.head.weight, feats[0]) + net.head.bias[
                :, None, None
            ]
        worst["scores"] = max(
            worst["scores"], float(np.abs(ort_scores - torch.sigmoid(logits).numpy()).max())
        )
        worst["features"] = max(worst["features"], float(np.abs(ort_feats - feats.numpy()).max()))
        for k in range(len(CLASSES)):
            cam_np = class_activation_map(ort_feats[0], w[k], float(b[k]))
            worst["cam"] = max(worst["cam"], float(np.abs(cam_np - cam_t[k].numpy()).max()))
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--train-report", type=Path, required=True)
    p.add_argument("--images", type=Path, required=True, help="images for the parity check")
    p.add_argument("--version", default="1")
    a = p.parse_args(argv)
    print(json.dumps(run_export(a.checkpoint, a.out, a.train_report, a.images, a.version)))
    return 0


def run_export(
    checkpoint: Path, out: Path, train_report: Path, images: Path, version: str = "1"
) -> dict[str, object]:
    report = json.loads(train_report.read_text())
    size = int(report["config"]["input_size"])
    net = load_net(checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / FP32_NAME
    export_onnx(net, onnx_path, size)
    diffs = parity(net, onnx_path, list_images(images)[:12], size)
    if max(diffs.values()) > PARITY_TOL:
        raise RuntimeError(f"ONNX/torch parity above {PARITY_TOL}: {diffs}")
    write_manifest(net, out, size, report["thresholds"], version)
    return {"onnx": str(onnx_path), "bytes": onnx_path.stat().st_size, "parity": diffs}


if __name__ == "__main__":
    raise SystemExit(main())
