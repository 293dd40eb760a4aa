"""``citywatch train fire``: train -> export (ONNX + manifest) -> INT8 -> evaluate, in one run."""

from __future__ import annotations

import argparse
import json
from typing import Any

from models.fire.data import make_split
from models.fire.evaluate import evaluate, latency_compare
from models.fire.export import (
    FP32_NAME,
    INT8_NAME,
    MANIFEST_NAME,
    load_net,
    run_export,
    write_manifest,
)
from models.fire.quantize import calibration_samples, quantize
from models.fire.train import config_from_args, train

CALIBRATION_IMAGES = 120


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    result = train(cfg)
    report_path = result.report_path or cfg.out / "train_report.json"
    summary: dict[str, Any] = {
        "thresholds": result.thresholds,
        "export": run_export(
            result.checkpoint, cfg.out, report_path, cfg.data / "valid" / "images"
        ),
    }
    if not args.no_int8:
        split = make_split(
            cfg.data,
            cfg.negatives,
            seed=cfg.seed,
            max_images=cfg.max_images,
            disjoint_from_test=cfg.disjoint_from_test,
        )
        calib = calibration_samples(split.fit, CALIBRATION_IMAGES, cfg.seed)
        summary["int8"] = quantize(cfg.out / FP32_NAME, cfg.out / INT8_NAME, calib, cfg.input_size)
        write_manifest(
            load_net(result.checkpoint), cfg.out, cfg.input_size, result.thresholds, "1"
        )
    manifest = cfg.out / MANIFEST_NAME
    precisions = ["fp32"] if args.no_int8 else ["fp32", "int8"]
    for precision in precisions:
        summary[f"eval_{precision}"] = evaluate(
            manifest, precision, data=cfg.data, heldout_drones=cfg.negatives
        )
    if not args.no_int8:
        files = {"fp32": cfg.out / FP32_NAME, "int8": cfg.out / INT8_NAME}
        summary["latency"] = latency_compare(files, cfg.input_size)
    (cfg.out / "eval_report.json").write_text(json.dumps(summary, indent=2) + "\n")
    for precision in precisions:
        labelled = summary[f"eval_{precision}"].get("labelled", {})
        print(precision, json.dumps(labelled.get("per_class", {})))
    return 0
