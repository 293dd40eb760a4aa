"""``citywatch-train fire --data DIR --out DIR``: train, export (ONNX + manifest), quantise
(INT8) and evaluate the fire/smoke classifier. Needs the ``train`` extra (torch), imported only
when the command runs so ``citywatch-train --help`` works without it."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

TRAIN_EXTRA_HINT = (
    "training needs torch: install the train extra, e.g. `pip install 'citywatch[train]'` "
    "(or a separate venv: see docs/fire.md)"
)


def register(sub: Any) -> None:
    fire: argparse.ArgumentParser = sub.add_parser(
        "fire", help="Train the fire/smoke classifier with CAM (MobileNetV2; needs torch)."
    )
    fire.add_argument("--data", type=Path, required=True, help="fire_smoke folder (train, valid).")
    fire.add_argument("--out", type=Path, required=True, help="Output folder (ONNX, reports).")
    fire.add_argument("--negatives", type=Path, help="Drone images: sessions split train/held-out.")
    fire.add_argument("--weapons", type=Path, help="Weapons-set images: scene negatives.")
    fire.add_argument("--pretrained", type=Path, help="mobilenet_v2-b0353104.pth path.")
    fire.add_argument("--epochs", type=int, default=12)
    fire.add_argument("--seed", type=int, default=0)
    fire.add_argument("--input-size", type=int, default=192)
    fire.add_argument("--threads", type=int, default=2)
    fire.add_argument("--include-valid-clips", action="store_true",
                      help="Also train on train/ clips that appear in valid/ (optimistic valid/).")
    fire.add_argument("--refit", action="store_true",
                      help="Train on every train/ image for exactly --epochs; val keeps its scene "
                      "negatives, which bound the thresholds (the shipped fire@4).")
    fire.add_argument("--refit-drones", action="store_true",
                      help="With --refit: also fit val's drone sessions (the shipped fire@4).")
    fire.add_argument("--samples-per-epoch", type=int, default=480,
                      help="Balanced draws per epoch (fire@4: 960).")
    fire.add_argument("--negative-share", type=float, default=None,
                      help="Share of scene negatives among the draws (fire@4: 0.5; default: the "
                      "four strata alike).")
    fire.add_argument("--backbone-blocks", type=int, default=14, choices=[14, 15, 16, 17],
                      help="MobileNetV2 features[:N]: 14 = stride 16 (fire@3), 16 = stride 32 "
                      "(the shipped fire@4).")
    fire.add_argument("--smoke", action="store_true", help="A few steps on a handful of images.")
    fire.add_argument("--no-progress", action="store_true")
    fire.add_argument("--no-int8", action="store_true", help="Skip INT8 quantisation.")
    fire.set_defaults(func=_run_fire)


def _run_fire(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("torch") is None:
        print(TRAIN_EXTRA_HINT)
        return 2
    from models.fire.pipeline import run

    return int(run(args))
