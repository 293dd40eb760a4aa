"""``citywatch-train fire``: train -> export (ONNX + manifest) -> INT8 -> evaluate, in one run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from models.fire.evaluate import evaluate, latency_compare
from models.fire.export import (
    FP32_NAME,
    INT8_NAME,
    MANIFEST_NAME,
    load_net,
    run_export,
    write_manifest,
)
from models.fire.quantize import CALIBRATION_IMAGES, calibration_samples, quantize
from models.fire.train import (
    TrainConfig,
    config_from_args,
    finish_from_checkpoint,
    split_for,
    split_seed_of,
    train,
)

# fire@4: fire@3's recipe (refit, half the draws scene negatives) with --backbone-blocks 16
VERSION = "4"
SHIPPED_BLOCKS = 16


def version_for(blocks: int) -> str:
    """The manifest version: another cut than the shipped one is tagged, never mistaken for it."""
    return VERSION if blocks == SHIPPED_BLOCKS else f"{VERSION}-b{blocks}"

VIDEOS = "videos"  # <data>/../videos: street clips, false alarms only (never trained on)


def quantize_run(cfg: TrainConfig, out: Path) -> dict[str, Any]:
    """INT8 of ``out``'s FP32 file, calibrated on the run's own fit split."""
    calib = calibration_samples(split_for(cfg).fit, CALIBRATION_IMAGES, split_seed_of(cfg))
    return quantize(out / FP32_NAME, out / INT8_NAME, calib, cfg.input_size)


def evaluate_run(cfg: TrainConfig, manifest: Path, with_int8: bool) -> dict[str, Any]:
    """``eval_fp32`` (and ``eval_int8`` and their ``latency`` ratio) of the files beside
    ``manifest``, on the run's own held-out sets (the split seed picks the weapons groups)."""
    videos = cfg.data.parent / VIDEOS
    out: dict[str, Any] = {}
    for precision in ("fp32", "int8") if with_int8 else ("fp32",):
        out[f"eval_{precision}"] = evaluate(
            manifest,
            precision,
            data=cfg.data,
            heldout_drones=cfg.negatives,
            heldout_weapons=cfg.weapons,
            videos=[videos] if videos.is_dir() else [],
            seed=split_seed_of(cfg),
        )
    if with_int8:
        files = {"fp32": manifest.parent / FP32_NAME, "int8": manifest.parent / INT8_NAME}
        out["latency"] = latency_compare(files, cfg.input_size)
    return out


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    # --finish: thresholds, export, INT8 and evaluation for an existing OUT/fire_best.pt
    result = finish_from_checkpoint(cfg) if getattr(args, "finish", False) else train(cfg)
    report_path = result.report_path or cfg.out / "train_report.json"
    summary: dict[str, Any] = {
        "thresholds": result.thresholds,
        "export": run_export(
            result.checkpoint,
            cfg.out,
            report_path,
            cfg.data / "valid" / "images",
            version_for(cfg.backbone_blocks),
        ),
    }
    if not args.no_int8:
        summary["int8"] = quantize_run(cfg, cfg.out)
        write_manifest(
            load_net(result.checkpoint),
            cfg.out,
            cfg.input_size,
            result.thresholds,
            version_for(cfg.backbone_blocks),
        )
    manifest = cfg.out / MANIFEST_NAME
    summary.update(evaluate_run(cfg, manifest, with_int8=not args.no_int8))
    (cfg.out / "eval_report.json").write_text(json.dumps(summary, indent=2) + "\n")
    for precision in ("fp32", "int8"):
        if f"eval_{precision}" not in summary:
            continue
        labelled = summary[f"eval_{precision}"].get("labelled", {})
        print(precision, json.dumps(labelled.get("per_class", {})))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m models.fire.pipeline``: the same run as ``citywatch-train fire``."""
    import logging

    from models.fire.train import add_train_arguments

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__)
    add_train_arguments(p)
    p.add_argument("--no-int8", action="store_true", help="skip INT8 quantisation")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
