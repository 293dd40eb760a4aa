"""Model selection on the val split only (never ``valid/``): the rule that decides whether a
retrained fire model replaces the shipped one.

For each candidate manifest, on the val split of ``make_split(seed)`` (early-stopping images,
where each candidate's thresholds were also chosen):

* ``fire_f1``, ``smoke_f1`` at the operating thresholds, and ROC-AUC; the thresholds are the
  manifest's, or with ``--rethreshold`` chosen again by the training rule
  (``metrics.capped_f1_threshold``: F1-best in [floor, 0.95] with at most 1% of the val scene
  negatives above) on these node-view scores, so candidates whose thresholds were chosen on
  another view of val (fire@2: through the 256 px crop cache) compete on equal terms;
* ``val_negative_false_alarm``: share of val scene negatives (no fire, no smoke) raising a class;
* ``cam``: the fire CAM box hit rate (IoU >= 0.3 with the box enclosing the labelled fire boxes)
  for every region rule x threshold of ``evaluate.cam_sweep``; the best one is that model's rule;
* ``score = fire_f1 + smoke_f1 + cam_hit`` (best rule).

Rule (fixed before any candidate was evaluated on ``valid/``): the candidate with the highest
score wins; within 0.01 of each other the smaller input wins (latency). A new model ships only if
it wins against the shipped one. Guard added in round 3 after the first candidate's test figures
had been seen (model card): a val winner is still not shipped when a held-out false-alarm rate
(drones, weapons, street videos per frame) is more than twice the shipped model's and above 2%.

    python -m models.fire.select --data ../shared/datasets/fire_smoke \\
        --negatives ../shared/datasets/drones/images \\
        --weapons ../shared/datasets/weapons/train/images \\
        --manifest models/fire/fire_cls.json --manifest runs/fire3/fire_cls.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.fire import metrics
from models.fire.data import CLASSES, Sample, make_split
from models.fire.evaluate import cam_sweep, load_model, score_samples

TIE = 0.01


def select_report(
    manifest: Path,
    val: Sequence[Sample],
    precision: str = "fp32",
    rethreshold: bool = False,
    max_false_alarm: float = 0.01,
    floor: float = 0.5,
) -> dict[str, Any]:
    model = load_model(manifest, precision)
    scored = score_samples(model, val, 0.6)
    scores = np.stack([s.scores for s in scored])
    targets = np.stack([s.target for s in scored if s.target is not None]) > 0.5
    none = ~targets.any(axis=1)
    th = dict(model.manifest.thresholds)
    if rethreshold:
        th = {
            name: metrics.capped_f1_threshold(
                targets[:, k], scores[:, k], none, max_false_alarm, floor=floor
            )
            for k, name in enumerate(CLASSES)
        }
    out: dict[str, Any] = {
        "manifest": str(manifest),
        "input_size": model.manifest.input_size,
        "thresholds": th,
    }
    for k, name in enumerate(CLASSES):
        p, r, f1 = metrics.prf1(targets[:, k], scores[:, k] >= th[name])
        out[f"{name}_precision"], out[f"{name}_recall"] = round(p, 4), round(r, 4)
        out[f"{name}_f1"] = round(f1, 4)
        out[f"{name}_auc"] = metrics.roc_auc(targets[:, k], scores[:, k])
    raised = np.zeros(len(scored), bool)
    for k, name in enumerate(CLASSES):
        raised |= scores[:, k] >= th[name]
    out["val_negatives"] = int(none.sum())
    out["val_negative_false_alarm"] = round(float(raised[none].mean()), 4) if none.any() else None
    sweep = cam_sweep(model, val)
    best = max(sweep["rows"], key=lambda r: (r["hit_rate_union"], -abs(r["threshold"] - 0.6)))
    out["cam"] = sweep
    out["cam_rule"] = {"region": best["region"], "threshold": best["threshold"]}
    out["cam_hit"] = best["hit_rate_union"]
    out["score"] = round(out["fire_f1"] + out["smoke_f1"] + out["cam_hit"], 4)
    return out


def winner(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Highest score; among those within ``TIE`` of it, the smallest input size (then the first)."""
    top = max(r["score"] for r in reports)
    close = [r for r in reports if r["score"] >= top - TIE]
    return min(close, key=lambda r: r["input_size"])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="fire_smoke folder")
    p.add_argument("--negatives", type=Path, default=None, help="drone images")
    p.add_argument("--weapons", type=Path, default=None, help="weapons images")
    p.add_argument("--manifest", type=Path, action="append", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rethreshold", action="store_true", help="thresholds by the training rule")
    p.add_argument("--floor", type=float, default=0.5, help="lowest threshold (--rethreshold)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON report here too")
    a = p.parse_args(argv)
    split = make_split(
        a.data, a.negatives, seed=a.seed, disjoint_from_test=False, weapons_images=a.weapons
    )
    reports = [
        select_report(m, split.val, rethreshold=a.rethreshold, floor=a.floor) for m in a.manifest
    ]
    summary = {
        "val_images": len(split.val),
        "candidates": reports,
        "winner": winner(reports)["manifest"],
    }
    text = json.dumps(summary, indent=2)
    if a.out is not None:
        a.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
