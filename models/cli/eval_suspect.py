"""``citywatch-train eval suspect``: the suspect-object detector on held-out data.

mAP@0.5 and mAP@0.5:0.95 per class (COCO-style matching), precision/recall at the operating
threshold, false positives per image on object-free frames (videos or image folders), and the
COCO YOLOX-nano baseline on the same frames (person, knife). No torch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(esub: Any) -> None:
    p: argparse.ArgumentParser = esub.add_parser(
        "suspect", help="Suspect objects: per-class mAP, P/R, FPs per object-free frame."
    )
    p.add_argument(
        "--model", default="suspect_yolox",
        help="Registry name or an .onnx path (labels from the registry entry).",
    )  # fmt: skip
    p.add_argument(
        "--shared", type=Path, help="The shared folder: evaluates the held-out test splits."
    )
    p.add_argument(
        "--split", choices=("test", "val"), default="test",
        help="With --shared: the held-out test split (default) or the validation split.",
    )  # fmt: skip
    p.add_argument("--data", type=Path, help="A YOLO folder (images/, labels/) to evaluate.")
    p.add_argument("--classes", default="", help="--data class names by id, comma-separated.")
    p.add_argument(
        "--negatives", type=Path, action="append", default=[],
        help="Object-free video, folder of videos or of images (repeatable).",
    )  # fmt: skip
    p.add_argument("--every", type=int, default=10, help="Videos: every N-th frame.")
    p.add_argument(
        "--threshold", type=float, default=0.4, help="Operating threshold (the node default)."
    )
    p.add_argument("--baseline", type=Path, help="yolox_nano.onnx: COCO baseline on the same data.")
    p.add_argument("--person-gt", type=Path, help="annotations.csv of people (hand-checked).")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _resolve(model: str) -> tuple[Path, list[str]]:
    from node.registry.store import ModelStore

    store = ModelStore()
    path = Path(model)
    if path.suffix == ".onnx" and path.is_file():
        for entry in store.entries().values():
            if entry.file == path.name:
                return path, list(entry.manifest.labels)
        raise ValueError(f"{path}: no registry entry names this file; labels unknown")
    return store.path(model), list(store.entry(model).manifest.labels)


def _run(args: argparse.Namespace) -> int:
    from models.suspect.evaluate import evaluate_suspect

    if not (args.shared or args.data or args.negatives):
        print("nothing to evaluate: give --shared, --data or --negatives")
        return 2
    path, labels = _resolve(args.model)
    report = evaluate_suspect(
        path, labels, threshold=args.threshold, shared=args.shared, data=args.data,
        data_classes=[c for c in args.classes.split(",") if c], negatives=args.negatives,
        every=args.every, baseline=args.baseline, person_gt=args.person_gt, split=args.split,
    )  # fmt: skip
    print(json.dumps(report, indent=None if args.json else 1))
    return 0
