"""``citywatch explain IMAGE``: why did a model say what it said about this image?

Runs one explanation method on one model (from the registry, like ``analyze``), writes the
heatmap overlay (the mass box drawn) to ``--out`` and prints where the map peaks; ``--json``
prints one ``ExplainReport`` object instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from schemas.explain import METHODS, MODELS


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "explain",
        help="Explain one model's output on an image (CAM, Grad-CAM, RISE, D-RISE, occlusion, "
        "LIME) as a heatmap.",
        description=(
            "Explain a model's output on IMAGE and write the heatmap overlay. fire: cam, "
            "gradcam, rise, occlusion, lime (--target fire|smoke, default the top class); "
            "objects and suspect: drise, occlusion for one detection (--box, --target CLASS, "
            "default the top detection); faces: occlusion (with per-region similarity drops), "
            "rise, lime for a face match (--identity NAME, default the best enrolled match). "
            "Models come from the registry (CITYWATCH_MODEL_MIRROR=DIR works offline)."
        ),
    )
    p.add_argument("image", metavar="IMAGE", type=Path, help="Image file.")
    p.add_argument("--model", required=True, choices=MODELS, help="Which model to explain.")
    p.add_argument("--method", required=True, choices=METHODS, help="Explanation method.")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--identity", metavar="NAME", help="faces: the enrolled identity.")
    p.add_argument("--target", metavar="CLASS", help="Class to explain.")
    who.add_argument("--box", metavar="X1,Y1,X2,Y2", type=_box,
                     help="Detectors: the detection to explain, in image pixels.")  # fmt: skip
    p.add_argument("--budget-masks", type=int, metavar="N", default=None,
                   help="Forward passes at most (default per method).")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="Random masks' seed (default 0).")
    p.add_argument("--out", type=Path, required=True, help="Overlay image to write (.png/.jpg).")
    p.add_argument("--json", action="store_true", help="Print the report as one JSON object.")
    p.add_argument("--config", "-c", help="Node YAML config (models, faces gallery).")
    p.set_defaults(func=_explain)


def _box(text: str) -> tuple[float, float, float, float]:
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X1,Y1,X2,Y2, got {text!r}") from None
    if not (x1 < x2 and y1 < y2):
        raise argparse.ArgumentTypeError(f"box must have x1 < x2 and y1 < y2, got {text!r}")
    return x1, y1, x2, y2


def _explain(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from node.config import ConfigError, load_config
    from node.explain import Explainer, ExplainError, ExplainRequest
    from node.explain.explainer import check_supported
    from node.explain.report import overlay_image, report
    from node.explain.sources import explain_models
    from node.inference.errors import ModelError
    from node.registry.loader import ModelLoader
    from node.registry.store import store_from_config

    def fail(message: str) -> int:
        print(f"citywatch explain: {message}", file=sys.stderr)
        return 2

    if args.budget_masks is not None and args.budget_masks < 1:
        return fail("--budget-masks must be >= 1")
    read = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
    if read is None:
        return fail(f"{args.image}: not a readable image")
    image = np.asarray(read, dtype=np.uint8)
    req = ExplainRequest(
        model=args.model, method=args.method, target=args.target, box=args.box,
        identity=args.identity, budget=args.budget_masks, seed=args.seed,
    )  # fmt: skip
    try:
        check_supported(req.model, req.method)  # before any model is loaded
        config = load_config(args.config)
        m = config.models
        store = store_from_config(
            m.store_dir, m.mirror, m.download_timeout_s, progress_stream=sys.stderr
        )
        explainer = Explainer(explain_models(config, ModelLoader(store, m)))
        e = explainer.explain(image, req)
    except (ExplainError, ConfigError, ModelError, FileNotFoundError) as err:
        return fail(str(err))
    if not cv2.imwrite(str(args.out), overlay_image(image, e)):
        return fail(f"{args.out}: could not write the overlay (unknown extension?)")
    r = report(e)
    if args.json:
        print(r.model_dump_json(exclude_none=True))
    else:
        print(f"{r.method} on {r.model} ({r.target}): peak {list(r.peak)}, box {list(r.box)}, "
              f"{r.masks} passes, {r.ms:.0f} ms -> {args.out}")  # fmt: skip
        for name, drop in (r.regions or {}).items():
            print(f"  {name}: similarity drop {drop:+.3f}")
    return 0
