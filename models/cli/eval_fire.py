"""``citywatch-train eval fire --data DIR``: per-class P/R/F1, ROC-AUC and confusion on a labelled
YOLO split, CAM localisation hit rate, and false-alarm rates on folders of no-fire images and
videos."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(esub: Any) -> None:
    p: argparse.ArgumentParser = esub.add_parser(
        "fire", help="Fire/smoke: P/R/F1, ROC-AUC, confusion, CAM IoU, false alarms."
    )
    p.add_argument("--data", type=Path, help="fire_smoke folder (uses valid/) or a YOLO split.")
    p.add_argument(
        "--negatives", type=Path, action="append", default=[],
        help="A folder of images with no fire and no smoke (repeatable): counts false alarms.",
    )
    p.add_argument(
        "--heldout-drones", type=Path,
        help="The drone images folder: only its capture sessions kept out of training count.",
    )
    p.add_argument(
        "--videos", type=Path, action="append", default=[],
        help="A video or a folder of .mp4 with no fire (repeatable): frames sampled per clip.",
    )
    p.add_argument("--manifest", type=Path, help="Fire manifest (default: the bundled one).")
    p.add_argument(
        "--heldout-weapons", type=Path,
        help="The weapons images folder: only its groups kept out of training count.",
    )
    p.add_argument("--precision", choices=["int8", "fp32"], default="fp32")
    p.add_argument(
        "--cam-threshold", type=float, default=None,
        help="CAM box threshold (default: the node's, from the fire config).",
    )
    p.add_argument(
        "--cam-region", choices=["peak", "largest", "union"], default=None,
        help="CAM box region rule (default: the node's; fire@2's rule was peak 0.6).",
    )
    p.add_argument(
        "--classifier-cam", action="store_true",
        help="Boxes from the classifier's CAM even when the manifest has a localisation head "
        "(the shipped fire@4's classifier CAM; fire@3's before round 8: use fire@3's files "
        "with --cam-region union --cam-threshold 0.7).",
    )
    p.add_argument("--latency", action="store_true", help="Also time FP32 vs INT8 (same run).")
    p.add_argument("--json", action="store_true", help="Print the full report as JSON.")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from models.fire.evaluate import evaluate, latency_compare
    from node.fire.model import DEFAULT_MANIFEST, FireManifest

    if not (args.data or args.negatives or args.videos or args.heldout_drones):
        print("nothing to evaluate: give --data, --negatives, --heldout-drones or --videos")
        return 2
    missing = [
        str(p)
        for p in [args.data, args.heldout_drones, args.manifest, *args.negatives, *args.videos]
        if p is not None and not p.exists()
    ]
    if missing:
        print(f"citywatch-train eval fire: not found: {', '.join(missing)}")
        return 2
    manifest_path = args.manifest or DEFAULT_MANIFEST
    result = evaluate(
        manifest_path,
        args.precision,
        data=args.data,
        negative_dirs=args.negatives,
        videos=args.videos,
        cam_threshold=args.cam_threshold,
        cam_region=args.cam_region,
        heldout_drones=args.heldout_drones,
        heldout_weapons=args.heldout_weapons,
        classifier_cam=args.classifier_cam,
    )
    if args.latency:
        m = FireManifest.load(manifest_path)
        files = {k: manifest_path.parent / f for k, f in m.files.items()}
        result["latency"] = latency_compare(files, m.input_size)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_human(result)
    return 0


def _print_human(r: dict[str, Any]) -> None:
    print(f"model {r['model']}  thresholds {r['thresholds']}")
    lab = r.get("labelled")
    if lab:
        print(f"labelled: {lab['folder']} ({lab['images']} images)")
        for name, c in lab["per_class"].items():
            print(
                f"  {name:6s} P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f} "
                f"AUC {c['roc_auc']}  (positives {c['positives']}, {c['confusion']})"
            )
        print(f"  true -> predicted: {lab['confusion_true_vs_predicted']}")
        if "cam_fire_iou" in lab:
            print(f"  CAM fire box: {lab['cam_fire_iou']}")
        if "cam_smoke_iou" in lab:
            print(f"  CAM smoke box: {lab['cam_smoke_iou']}")
    for folder, fa in r.get("negatives", {}).items():
        print(f"no-fire folder {folder}: {fa['frames']} images, "
              f"false alarms {fa['false_alarm_rate']}")
    if "heldout_drones" in r:
        fa = r["heldout_drones"]
        print(f"held-out drone sessions {fa['sessions']}: {fa['frames']} images, "
              f"false alarms {fa['false_alarm_rate']} {fa['per_class_rate']}")
    for clip, fa in r.get("videos", {}).items():
        print(f"video {clip}: {fa['frames']} frames, false alarms {fa['false_alarm_rate']}")
    if "videos_total" in r:
        print(f"videos total: {r['videos_total']}")
    if "latency" in r:
        print(f"latency: {r['latency']}")
