"""``citywatch-train eval explain``: pointing game, deletion/insertion AUC and time per method on
held-out fire/smoke and weapons images with boxes (docs/explain.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "explain",
        help="Explanation quality: pointing game, deletion/insertion AUC, time per method.",
        description="Explain the fire model on fire_smoke/valid images without a near-duplicate "
        "in train/ (cam, gradcam, rise, occlusion, lime) and the suspect detector's detections "
        "on its held-out weapons test split (drise, occlusion), with the node's default budgets; "
        "print the tables of docs/explain.md and optionally a figure of the cases where methods "
        "disagree. Models come from the registry (CITYWATCH_MODEL_MIRROR=DIR works offline).",
    )
    p.add_argument("--data", type=Path, required=True, help="The shared data root (../shared).")
    p.add_argument("--weapons-limit", type=int, default=60,
                   help="Held-out weapon images, in path order (default %(default)s).")  # fmt: skip
    p.add_argument("--only", choices=("fire", "suspect", "faces"), default=None,
                   help="One model only.")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="Write every row as JSON here.")
    p.add_argument("--figure", type=Path, default=None,
                   help="PNG of fire cases where the methods disagree (hit vs miss).")  # fmt: skip
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default 1).")
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    import cv2

    from models.explain.evaluate import (
        DETECT_SCORE,
        DETECTOR_METHODS,
        FACE_METHODS,
        FIRE_METHODS,
        disagreements,
        dump,
        evaluate,
        face_cases,
        face_gallery,
        figure,
        fire_cases,
        markdown,
        weapon_cases,
    )
    from node.config import load_config
    from node.detect.yolox import detect
    from node.explain import Explainer
    from node.explain.sources import SUSPECT_SLOT, explain_models
    from node.registry.loader import ModelLoader
    from node.registry.store import store_from_config

    config = load_config(None)
    m = config.models.model_copy(update={"intra_op_threads": args.threads})
    store = store_from_config(m.store_dir, m.mirror, m.download_timeout_s, progress_stream=None)
    loader = ModelLoader(store, m)
    models = explain_models(config, loader)
    explainer = Explainer(models)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    cases = []
    counts: dict[str, int] = {}
    if args.only in (None, "fire"):
        cases += fire_cases(args.data)
        counts["fire_cases"] = len(cases)
    if args.only in (None, "suspect"):
        session = loader.load(SUSPECT_SLOT).session

        def find(image: Any) -> Any:
            return detect(session, image, score_threshold=DETECT_SCORE, iou_threshold=0.45)

        weapons, wcounts = weapon_cases(args.data, find, args.weapons_limit)
        cases += weapons
        counts.update(wcounts, weapon_cases=len(weapons))
    if args.only in (None, "faces"):
        from node.face.analytic import build_engine

        engine = build_engine(config.analytics.faces, loader)
        gallery = face_gallery(engine, args.data)
        models.faces = lambda: (engine, gallery)
        faces = face_cases(args.data)
        cases += faces
        counts["face_cases"] = len(faces)
    methods = {"fire": FIRE_METHODS, "suspect": DETECTOR_METHODS, "faces": FACE_METHODS}
    ev = evaluate(explainer, models, cases, methods, progress)
    ev.counts = counts
    print(markdown(ev))
    print(f"counts: {counts}")
    if args.out is not None:
        dump(ev, args.out)
    if args.figure is not None:
        picks = disagreements(ev, "fire")
        grid = figure(explainer, [c for c in cases if c.model == "fire"], picks, FIRE_METHODS)
        cv2.imwrite(str(args.figure), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"figure: {args.figure} ({len(picks)} cases where the methods disagree)")
    return 0
