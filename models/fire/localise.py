"""Fit a localisation head next to a shipped fire/smoke classifier (round 8, ``MODEL_CARD.md``).

The classifier and its head stay untouched, so every score, threshold and false-alarm figure is
unchanged. The new head is a second linear map over the same exported feature map; the node
boxes and draws the heatmap from it. It is fitted on the ``train/`` images with boxes (and their
mirrors) with round 3's localisation loss: KL from the box cover to the spatial softmax of the
map, plus ``lambda * ||W - W_cls||^2`` towards the classifier head it starts from.

The strength ``lambda`` and the node's box rule (region, threshold) are chosen by grouped k-fold
cross-validation over ``train/`` clip groups; the winner is refitted on every fold and written
into a copy of the manifest only if it beats the classifier CAM's node rule by more than
``--min-gain`` on the same images.

    python -m models.fire.localise --data ../shared/datasets/fire_smoke \\
        --manifest models/fire/fire_cls.json --out runs/fire8
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch

from models.fire.data import Sample, load_yolo_split
from models.fire.evaluate import CAM_SWEEP_THRESHOLDS, IOU_HIT, cam_iou, load_model
from models.fire.train import box_coverage
from node.fire.cam import CAM_REGIONS, CamRegion, class_activation_map
from node.fire.model import FireManifest, FireModel

LAMBDAS = (0.001, 0.01, 0.1, 1.0)
STEPS = 400  # full-batch Adam steps; the fit is tiny (2 x 256 weights)
LR = 0.01
NODE_RULE: tuple[CamRegion, float] = ("union", 0.7)  # the classifier CAM's rule before round 8


@dataclass(frozen=True)
class Item:
    """One image (or its mirror): feature map, box cover per class, frame size, boxes."""

    features: npt.NDArray[np.float32]  # (C, h, w)
    cover: npt.NDArray[np.float32]  # (classes, h, w)
    width: int
    height: int
    group: str
    mirrored: bool
    fire_boxes: tuple[tuple[float, float, float, float], ...]


def _mirror(boxes: Sequence[tuple[float, float, float, float]]) -> tuple[
    tuple[float, float, float, float], ...
]:
    return tuple((1.0 - b[2], b[1], 1.0 - b[0], b[3]) for b in boxes)


def collect(model: FireModel, samples: Sequence[Sample]) -> list[Item]:
    """Features of every sample with boxes, as the node computes them, and of its mirror."""
    size = model.manifest.input_size
    items: list[Item] = []
    for s in samples:
        if not (s.fire_boxes or s.smoke_boxes):
            continue
        img = cv2.imread(str(s.path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read image {s.path}")
        for mirrored in (False, True):
            fire = _mirror(s.fire_boxes) if mirrored else s.fire_boxes
            smoke = _mirror(s.smoke_boxes) if mirrored else s.smoke_boxes
            frame = np.ascontiguousarray(img[:, ::-1]) if mirrored else img
            feats = model.predict(frame).features
            stride = model.manifest.feature_stride
            cover = np.stack([box_coverage(fire, size, stride), box_coverage(smoke, size, stride)])
            if cover.shape[1:] != feats.shape[1:]:
                raise ValueError(f"box grid {cover.shape[1:]} != feature grid {feats.shape[1:]}")
            items.append(Item(feats, cover, img.shape[1], img.shape[0], s.group, mirrored, fire))
    return items


def fit(
    items: Sequence[Item], init: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]], lam: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Full-batch fit of the localisation map; deterministic (seeded, one thread)."""
    torch.manual_seed(0)
    w0 = torch.from_numpy(init[0].copy())
    w = torch.nn.Parameter(w0.clone())
    b = torch.nn.Parameter(torch.from_numpy(init[1].copy()))
    feats = torch.from_numpy(np.stack([i.features for i in items])).flatten(2)  # (N, C, cells)
    cover = torch.from_numpy(np.stack([i.cover for i in items])).flatten(2)  # (N, K, cells)
    mass = cover.sum(dim=2)
    pos = mass > 0
    q = cover[pos] / mass[pos][:, None]
    ent = torch.special.xlogy(q, q).sum(dim=1)
    opt = torch.optim.Adam([w, b], lr=LR)
    for _ in range(STEPS):
        cam = torch.einsum("kc,ncs->nks", w, feats) + b[None, :, None]
        logp = torch.log_softmax(cam[pos], dim=1)
        loss = (ent - (q * logp).sum(dim=1)).mean() + lam * ((w - w0) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach().numpy().astype(np.float32), b.detach().numpy().astype(np.float32)


def hit_rates(
    items: Sequence[Item], weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32], k: int
) -> dict[tuple[CamRegion, float], list[bool]]:
    """Per (region, threshold): IoU >= 0.3 hits of the fire box on unmirrored fire images, counted
    as the evaluation counts them (enclosing box or best single box)."""
    out: dict[tuple[CamRegion, float], list[bool]] = {
        (r, t): [] for r in CAM_REGIONS for t in CAM_SWEEP_THRESHOLDS
    }
    for it in items:
        if it.mirrored or not it.fire_boxes:
            continue
        cam = class_activation_map(it.features, weight[k], float(bias[k]))
        for (region, t), hits in out.items():
            iou = cam_iou(cam, it.width, it.height, it.fire_boxes, t, region)
            hits.append(iou is not None and iou >= IOU_HIT)
    return out


def folds_of(items: Sequence[Item], n_folds: int, seed: int) -> list[int]:
    """Fold index per item: whole clip groups per fold, groups shuffled with ``seed``."""
    groups = sorted({i.group for i in items})
    random.Random(seed).shuffle(groups)
    fold = {g: n % n_folds for n, g in enumerate(groups)}
    return [fold[i.group] for i in items]


def cross_validate(
    items: Sequence[Item],
    init: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    k: int,
    n_folds: int,
    seed: int,
) -> dict[str, Any]:
    """Held-out-fold hit rates for each lambda x rule, and for the classifier CAM itself."""
    fold = folds_of(items, n_folds, seed)
    per_lambda: dict[float, dict[tuple[CamRegion, float], list[bool]]] = {}
    baseline: dict[tuple[CamRegion, float], list[bool]] = {}
    for f in range(n_folds):
        fit_items = [it for it, g in zip(items, fold, strict=True) if g != f]
        held = [it for it, g in zip(items, fold, strict=True) if g == f]
        for rule, hits in hit_rates(held, init[0], init[1], k).items():
            baseline.setdefault(rule, []).extend(hits)
        for lam in LAMBDAS:
            w, b = fit(fit_items, init, lam)
            acc = per_lambda.setdefault(lam, {})
            for rule, hits in hit_rates(held, w, b, k).items():
                acc.setdefault(rule, []).extend(hits)
    rows = [
        {"lambda": lam, "region": r, "threshold": t, "hit_rate": round(float(np.mean(h)), 4)}
        for lam, rules in per_lambda.items()
        for (r, t), h in rules.items()
    ]
    base_rows = [
        {"region": r, "threshold": t, "hit_rate": round(float(np.mean(h)), 4)}
        for (r, t), h in baseline.items()
    ]
    return {
        "fire_images": len(baseline[NODE_RULE]),
        "groups": len(set(it.group for it in items)),
        "folds": n_folds,
        "rows": rows,
        "classifier_cam": base_rows,
        "classifier_cam_node_rule": round(float(np.mean(baseline[NODE_RULE])), 4),
    }


def manifest_text(
    source: str, weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> str:
    """The source manifest's JSON with ``localisation_head`` right after ``head``, written as
    ``models.fire.export.write_manifest`` writes (indent 1, 7 decimals), so the diff is one key."""
    raw = json.loads(source)
    loc = {
        "weight": weight.astype(np.float64).round(7).tolist(),
        "bias": bias.astype(np.float64).round(7).tolist(),
    }
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "localisation_head":
            continue
        out[key] = value
        if key == "head":
            out["localisation_head"] = loc
    text = json.dumps(out, indent=1) + "\n"
    FireManifest.model_validate_json(text)  # refuse to write what the node would not load
    return text


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = load_model(args.manifest, "fp32", threads=args.threads, classifier_cam=True)
    fire_k = model.manifest.labels.index("fire")
    samples = load_yolo_split(args.data / "train", "fire_smoke/train")
    items = collect(model, samples)
    init = model.manifest.head_arrays()
    cv = cross_validate(items, init, fire_k, args.folds, args.seed)
    best = max(cv["rows"], key=lambda r: (r["hit_rate"], -r["lambda"]))
    gain = best["hit_rate"] - cv["classifier_cam_node_rule"]
    report: dict[str, Any] = {
        "manifest": str(args.manifest),
        "images_with_boxes": len(items) // 2,
        "cross_validation": cv,
        "best": best,
        "gain_over_classifier_cam": round(gain, 4),
        "adopted": gain > args.min_gain,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    if report["adopted"]:
        w, b = fit(items, init, float(best["lambda"]))
        text = manifest_text(args.manifest.read_text(), w, b)
        (args.out / args.manifest.name).write_text(text)
        for name in model.manifest.files.values():  # the manifest expects its files beside it
            link = args.out / name
            if not link.exists():
                link.symlink_to((args.manifest.parent / name).resolve())
    report["seconds"] = round(time.time() - t0, 1)
    (args.out / "localise_report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="fire_smoke folder (uses train/)")
    p.add_argument("--manifest", type=Path, required=True, help="the shipped fire manifest")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--min-gain", type=float, default=0.01,
        help="adopt only if the CV hit rate beats the classifier CAM's node rule by more than this",
    )
    report = run(p.parse_args(argv))
    print(json.dumps({k: v for k, v in report.items() if k != "cross_validation"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
