"""``citywatch eval movement --clips DIR``: per clip which actions were detected, per class the
clip-level recall and false alarms, with the ``nfd-fall.onnx`` baseline side by side."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def register(esub: Any) -> None:
    p: argparse.ArgumentParser = esub.add_parser(
        "movement", help="Movement: per-clip actions, per-class recall and false alarms."
    )
    p.add_argument("--clips", type=Path, required=True,
                   help="Folder of label folders (fall/, fight/, run/, walk/, nonfight/, other/).")
    p.add_argument("--models", type=Path, default=None,
                   help="Folder with the detector/MoveNet/nfd-fall .onnx files "
                        "(default: $CITYWATCH_MODEL_MIRROR).")
    p.add_argument("--config", "-c", help="Node YAML config (analytics.movement settings).")
    p.add_argument("--no-baseline", action="store_true", help="Skip the nfd-fall baseline.")
    p.add_argument("--json", action="store_true", help="Print the full report as JSON.")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from node.movement.baseline import NfdBaseline
    from node.movement.evaluate import (
        clips_in,
        factory_from_dir,
        run_clip,
        session_from_dir,
        summarise,
    )
    from schemas.config.movement import MovementConfig

    models = args.models or (Path(os.environ["CITYWATCH_MODEL_MIRROR"])
                             if os.environ.get("CITYWATCH_MODEL_MIRROR") else None)
    if models is None or not models.is_dir():
        print("give --models DIR (a folder with the .onnx files) or set CITYWATCH_MODEL_MIRROR")
        return 2
    cfg = MovementConfig(enabled=True)
    if args.config:
        from node.config import load_config

        cfg = load_config(Path(args.config)).analytics.movement
    factory = factory_from_dir(cfg, models)
    nfd = None if args.no_baseline else session_from_dir(models, "nfd_fall")
    results = []
    for path, label in clips_in(args.clips):
        baseline = None if nfd is None else NfdBaseline(nfd)
        results.append(run_clip(path, label, factory, cfg, baseline))
    report = summarise(results)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'clip':<48} {'label':<9} {'detected':<22} {'nfd fall':<8} pass")
    for c in report["clips"]:
        base = "-" if c["baseline_fall"] is None else ("yes" if c["baseline_fall"] else "no")
        print(f"{Path(c['clip']).name:<48} {c['label']:<9} {','.join(c['actions']) or '-':<22} "
              f"{base:<8} {c['pass']}")
    print()
    for action, row in report["per_class"].items():
        recall = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        print(f"{action:<6} recall {recall} on {row['clips']} clips, false alarms "
              f"{row['false_alarm_clips']}/{row['other_clips']} other clips")
    acc = report["acceptance"]
    print(f"\nacceptance: {acc['passed']}/{acc['clips']} clips as expected")
    return 0
