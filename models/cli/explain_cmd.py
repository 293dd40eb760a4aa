"""``citywatch-train explain export-gradcam``: the Grad-CAM graph the node reads gradients from
(needs the train extra: torch autograd makes the gradients at export time)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

MODELS = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = MODELS / "fire" / "fire_fp32.onnx"
DEFAULT_OUT = MODELS / "fire" / "fire_gradcam.onnx"
# The last stride-16 block of the fire model's MobileNetV2 trunk (12x12 at 192 px): twice the
# resolution of the head's 6x6 feature map, where Grad-CAM would only repeat the CAM.
DEFAULT_LAYER = "/net/backbone/backbone.13/Add_output_0"
MAP_TOLERANCE = 1e-3  # of the map's peak: float32 round-off, not a different graph


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "explain", help="Explainability artefacts: the Grad-CAM gradient graph."
    )
    esub = p.add_subparsers(dest="explain_command", metavar="WHAT", required=True)
    g = esub.add_parser(
        "export-gradcam",
        help="Export a classifier's Grad-CAM graph (activations and d logit / d activations).",
        description="Read a classifier ONNX (Conv/Clip/Add/ReduceMean/Gemm/Sigmoid graphs such as "
        "the fire model), make the gradient of the chosen class logit with respect to LAYER with "
        "torch autograd and export it as ONNX with inputs (input, class_weights) and outputs "
        "(scores, activations, gradients). Checks the result against autograd and the source "
        "model, and prints the sha256 and size for models/registry.yaml.",
    )
    g.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                   help="Classifier ONNX (default: %(default)s).")  # fmt: skip
    g.add_argument("--layer", default=DEFAULT_LAYER,
                   help="Tensor Grad-CAM weighs (default: %(default)s).")  # fmt: skip
    g.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="ONNX to write (default: %(default)s).")  # fmt: skip
    g.add_argument("--check-images", type=Path, default=None,
                   help="Images to check the gradients on (default: random pictures).")  # fmt: skip
    g.set_defaults(func=_export)


def _inputs(folder: Path | None, shape: tuple[int, int, int]) -> list[Any]:
    import cv2
    import numpy as np

    from node.fire.preprocess import preprocess

    if folder is None:  # smooth random pictures: pixel values and statistics of real images
        rng = np.random.default_rng(0)
        images = [cv2.resize(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8), shape[1:][::-1],
                             interpolation=cv2.INTER_CUBIC) for _ in range(4)]  # fmt: skip
    else:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png"})
        images = [i for i in (cv2.imread(str(p)) for p in paths[:4]) if i is not None]
    return [preprocess(i, shape[1]) for i in images]


def _export(args: argparse.Namespace) -> int:
    import onnx

    from models.explain.gradcam_export import check_export, export_gradcam, input_shape

    try:
        spec = export_gradcam(args.source, args.out, args.layer)
    except (ValueError, FileNotFoundError) as err:
        print(f"citywatch-train explain export-gradcam: {err}", file=sys.stderr)
        return 2
    shape = input_shape(onnx.load(str(args.source)))
    check = check_export(args.source, args.out, spec, _inputs(args.check_images, shape))
    print(f"layer {spec.layer}, logits {spec.logits}")
    print(f"gradients vs autograd: max |diff| {check.gradient_max_abs:.3g} "
          f"(largest gradient {check.gradient_scale:.3g}); Grad-CAM map {check.map_relative:.3g} "
          f"of its peak; activations {check.activation_max_abs:.3g}; scores vs "
          f"{args.source.name}: {check.score_max_abs:.3g}")  # fmt: skip
    data = args.out.read_bytes()
    print(f"{args.out}: sha256 {hashlib.sha256(data).hexdigest()}, size {len(data)}")
    if check.map_relative > MAP_TOLERANCE or check.score_max_abs > 1e-4:
        print("the exported graph does not match autograd / the source model", file=sys.stderr)
        return 1
    return 0
