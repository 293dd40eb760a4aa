"""A seed ensemble of fire/smoke networks in one ONNX graph (round 9).

The members are runs of one recipe that differ only in ``--seed`` (same split). The graph keeps
the single model's contract, so the node needs no change: ``scores`` = the mean of the members'
sigmoid scores, ``features`` = member 0's last feature map. The box, the heatmap and the
manifest's classifier head therefore stay member 0's; the classifier CAM is member 0's CAM, no
longer the ensemble's scores (the localisation head, the node's default, never was).

    git show 2dfeaf7:models/fire/fire_cls.json > runs/fire3_cls.json   # fire@3's manifest
    python -m models.fire.ensemble --members runs/fire9_s0 runs/fire9_s1 \\
        --localisation-from runs/fire3_cls.json --out runs/fire9_E2 --version e2 \\
        --data ../shared/datasets/fire_smoke --negatives ../shared/datasets/drones/images \\
        --weapons ../shared/datasets/weapons/train/images --include-valid-clips --refit \\
        --refit-drones --threads 1

(the split options must be the members' own: they rebuild the val split the thresholds are
chosen on and the held-out sets the evaluation counts; ``--localisation-from`` must be a manifest
of member 0's network: its feature stride is checked, its weights cannot be.)
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from models.fire.data import list_images
from models.fire.export import (
    FP32_NAME,
    PARITY_TOL,
    export_module,
    load_net,
    write_manifest,
)
from models.fire.net import FireNet
from models.fire.pipeline import evaluate_run, quantize_run
from models.fire.train import (
    FireDataset,
    TrainConfig,
    add_train_arguments,
    choose_thresholds,
    config_from_args,
    predict,
    seed_everything,
    split_for,
    split_seed_of,
)
from node.fire.preprocess import preprocess

CHECKPOINT = "fire_best.pt"


class EnsembleExport(nn.Module):
    """Mean sigmoid scores of every member; member 0's feature map (the node's box and CAM)."""

    def __init__(self, members: Sequence[FireNet]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits0, feats0 = self.members[0](x)
        total = torch.sigmoid(logits0)
        for member in list(self.members)[1:]:
            total = total + torch.sigmoid(member(x)[0])
        return total / len(self.members), feats0


def load_members(dirs: Sequence[Path]) -> list[FireNet]:
    missing = [d / CHECKPOINT for d in dirs if not (d / CHECKPOINT).is_file()]
    if missing:
        raise FileNotFoundError(f"member checkpoint(s) not found: {', '.join(map(str, missing))}")
    members = [load_net(d / CHECKPOINT) for d in dirs]
    cuts = {m.blocks for m in members}
    if len(cuts) > 1:  # one feature map, one stride: the members must share the cut
        raise ValueError(f"members have different backbone cuts: {sorted(cuts)}")
    return members


def ensemble_thresholds(members: Sequence[FireNet], cfg: TrainConfig) -> dict[str, float]:
    """The members' own threshold rule applied to the mean of their val scores."""
    val = split_for(cfg).val
    # the same view of val as the members' own thresholds (train._finish)
    cache_side = cfg.input_size if cfg.threshold_view == "node" else None
    ds = FireDataset(
        val,
        cfg.input_size,
        split_seed_of(cfg),
        train=False,
        progress=False,
        cache_side=cache_side,
        stride=members[0].feature_stride,
    )
    runs = [predict(m, ds, cfg.batch_size) for m in members]
    targets = runs[0][1]
    scores = np.mean([r[0] for r in runs], axis=0)
    return choose_thresholds(scores, targets, cfg)


def export_ensemble(members: Sequence[FireNet], path: Path, input_size: int) -> None:
    export_module(EnsembleExport(members), path, input_size)


def ensemble_parity(
    members: Sequence[FireNet], onnx_path: Path, images: Sequence[Path], input_size: int
) -> dict[str, float]:
    """Max abs difference, node pre-processing + ORT vs torch on the same pixels."""
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wrapper = EnsembleExport(members).eval()
    worst = {"scores": 0.0, "features": 0.0}
    for p in images:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot decode {p}")
        x = preprocess(img, input_size)
        ort_scores, ort_feats = sess.run(["scores", "features"], {"input": x})
        with torch.no_grad():
            scores, feats = wrapper(torch.from_numpy(x))
        worst["scores"] = max(worst["scores"], float(np.abs(ort_scores - scores.numpy()).max()))
        worst["features"] = max(worst["features"], float(np.abs(ort_feats - feats.numpy()).max()))
    return worst


def add_localisation_head(manifest: Path, source: Path | None) -> None:
    """Copy ``localisation_head`` from another manifest of member 0's network (its box stays as
    it shipped); a manifest of another cut (feature stride) is refused."""
    if source is None:
        return
    src = json.loads(source.read_text())
    head = src.get("localisation_head")
    if head is None:
        raise ValueError(f"{source} has no localisation_head")
    data = json.loads(manifest.read_text())
    if src.get("feature_stride") != data.get("feature_stride"):
        raise ValueError(
            f"{source} has feature stride {src.get('feature_stride')}, member 0 has "
            f"{data.get('feature_stride')}: its localisation head belongs to another network"
        )
    data["localisation_head"] = head
    manifest.write_text(json.dumps(data, indent=1) + "\n")


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = config_from_args(args)
    seed_everything(cfg.seed, cfg.threads)
    members = load_members(args.members)
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    thresholds = ensemble_thresholds(members, cfg)
    fp32 = out / FP32_NAME
    export_ensemble(members, fp32, cfg.input_size)
    parity = ensemble_parity(
        members, fp32, list_images(cfg.data / "valid" / "images")[:12], cfg.input_size
    )
    if max(parity.values()) > PARITY_TOL:
        raise RuntimeError(f"ONNX/torch parity above {PARITY_TOL}: {parity}")
    summary: dict[str, Any] = {
        "members": [str(d) for d in args.members],
        "thresholds": thresholds,
        "export": {"onnx": str(fp32), "bytes": fp32.stat().st_size, "parity": parity},
    }
    if not args.no_int8:
        summary["int8"] = quantize_run(cfg, out)
    manifest = write_manifest(members[0], out, cfg.input_size, thresholds, args.version)
    add_localisation_head(manifest, args.localisation_from)
    if args.no_eval:
        return summary
    summary.update(evaluate_run(cfg, manifest, with_int8=not args.no_int8))
    (out / "eval_report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_train_arguments(p)
    p.add_argument("--members", type=Path, nargs="+", required=True, help="run folders")
    p.add_argument(
        "--localisation-from",
        type=Path,
        default=None,
        help="manifest whose localisation_head is copied (member 0's own fit)",
    )
    p.add_argument("--version", default="ensemble", help="manifest version tag")
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--no-eval", action="store_true", help="export only")
    summary = run(p.parse_args(argv))
    printed = {k: summary[k] for k in ("thresholds", "export") if k in summary}
    print(json.dumps(printed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
