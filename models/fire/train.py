"""Train the fire/smoke classifier: ImageNet MobileNetV2 (truncated) -> multi-label sigmoid head.

Seeded and deterministic on CPU (same seed and thread count -> same weights). Class balance comes
from a weighted sampler over the four strata fire / smoke / both / none; early stopping watches the
validation loss of a split carved from ``train/`` by clip (``models.fire.data``); the operating
thresholds are the F1-best points on that validation split (never on ``valid/``).

    python -m models.fire.train --data ../shared/datasets/fire_smoke \\
        --negatives ../shared/datasets/drones/images --out runs/fire --seed 0

Box-supervised CAM (``--cam-loss``, ``--cam-neg-loss``): the head stays linear over globally
average-pooled features, so ``cam_k = w_k . F + b_k`` is exactly what the node computes, and two
auxiliary losses act on that map at every feature cell:

* localisation, for each class an image is positive for (with boxes): cross-entropy between the
  spatial softmax of ``cam_k`` over the cells and the box mask (share of each cell covered by the
  class's boxes, normalised to sum 1). It is invariant to adding a constant to the map, so it
  shapes *where* the map is high without pulling the image logit (= the map's mean) down for a
  small flame, which a per-cell BCE with every out-of-box cell negative would do;
* negatives, for each class an image is negative for: per-cell BCE of ``cam_k`` against 0 (no
  cell of a scene without fire may look like fire), i.e. max-like pressure on the hottest cells.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler
from tqdm import tqdm

from models.fire import metrics
from models.fire.augment import Box, augment_with_boxes
from models.fire.data import CLASSES, Sample, Split, load_cached, make_split, write_report
from models.fire.net import BACKBONE_BLOCKS, CUTS, FireNet, blocks_in, feature_stride
from node.fire.preprocess import normalize_rgb, preprocess

log = logging.getLogger(__name__)

CACHE_SIZE = 256  # decoded images are squashed to this once, then cropped to the input size
FEATURE_STRIDE = 16
DEFAULT_PRETRAINED = "mobilenet_v2-b0353104.pth"


def cache_size(input_size: int) -> int:
    """Side of the decoded-image cache: 256 up to 192 px input, 4/3 of the input above."""
    return max(CACHE_SIZE, round(input_size * 4 / 3))


def feature_side(input_size: int, stride: int = FEATURE_STRIDE) -> int:
    """Cells per side of the feature map (MobileNetV2 pads: ceil)."""
    return math.ceil(input_size / stride)


def box_coverage(
    boxes: Sequence[Box], size: int, stride: int = FEATURE_STRIDE
) -> npt.NDArray[np.float32]:
    """Share of each cell of the ``feature_side(size)`` grid covered by normalised xyxy ``boxes``
    (rasterised at ``size`` px, at least one pixel per box, then area-averaged)."""
    mask = np.zeros((size, size), np.float32)
    for b in boxes:
        x1, y1 = math.floor(b[0] * size), math.floor(b[1] * size)
        x2 = max(x1 + 1, math.ceil(b[2] * size))
        y2 = max(y1 + 1, math.ceil(b[3] * size))
        mask[min(y1, size - 1) : y2, min(x1, size - 1) : x2] = 1.0
    g = feature_side(size, stride)
    pad = g * stride - size
    if pad:
        mask = np.pad(mask, ((0, pad), (0, pad)))
    return np.asarray(mask.reshape(g, stride, g, stride).mean(axis=(1, 3)))


@dataclass
class TrainConfig:
    data: Path
    out: Path
    pretrained: Path
    negatives: Path | None = None
    weapons: Path | None = None  # weapons-set images: street/indoor/people negatives
    max_val_false_alarm: float = 0.01  # per class, on val negatives, when choosing thresholds
    # lowest operating threshold (conservative: false alarms cost more than a late alarm). A 0.3
    # floor was tried for a model whose scores the per-cell negative CAM loss had shifted down:
    # street-video false alarms went from 6% to 55% per frame (model card, fire@3 attempts)
    threshold_floor: float = 0.5
    # val images the thresholds are chosen on: "cache" = through the crop cache, as for early
    # stopping (fire@2's thresholds); "node" = resized straight from the file, as the node does
    threshold_view: str = "cache"
    seed: int = 0
    # MobileNetV2 features[:blocks]: 14 = fire@2/fire@3 (stride 16); 16 = round 10 (stride 32)
    backbone_blocks: int = BACKBONE_BLOCKS
    # the split's seed when it must differ from the training seed: members of a seed ensemble
    # train on one split (the same held-out weapons groups) with different draws and init
    split_seed: int | None = None
    epochs: int = 12
    patience: int = 3
    batch_size: int = 32
    input_size: int = 192
    lr: float = 1e-3
    backbone_lr: float = 3e-4
    weight_decay: float = 1e-4
    threads: int = 2
    val_fraction: float = 0.2
    disjoint_from_test: bool = True
    # every train/ image is fitted; val keeps scene negatives only: no early stopping, the last
    # epoch is kept, thresholds are the lowest under the val false-alarm cap (data.make_split)
    refit: bool = False
    refit_drones: bool = False  # also fit the val drone sessions (val: weapons negatives only)
    samples_per_epoch: int = 480  # balanced draws per epoch (bounds CPU time, not data seen)
    # expected share of scene negatives ("none") among the draws; None = the four strata alike
    # (fire@2). Negatives are the most varied stratum (street, indoor, sky: ~1100 images) yet get
    # a quarter of 480 draws per epoch, so most of them are never seen in a short run
    negative_share: float | None = None
    cam_loss: float = 0.0  # weight of the CAM localisation loss (module docstring)
    cam_neg_loss: float = 0.0  # weight of the per-cell BCE on classes an image is negative for
    max_images: int | None = None  # smoke runs
    max_steps: int | None = None  # smoke runs: stop each epoch after this many batches
    progress: bool = True


@dataclass
class TrainResult:
    checkpoint: Path
    thresholds: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    report_path: Path | None = None


Item = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class FireDataset(Dataset[Item]):
    """Cached, augmented (training) or plainly resized (evaluation) images with 2-d targets and
    per-class box coverage of the feature grid (2, g, g)."""

    def __init__(
        self,
        samples: Sequence[Sample],
        size: int,
        seed: int,
        train: bool,
        progress: bool,
        cache_side: int | None = None,
        *,
        stride: int,
    ) -> None:
        self.samples = list(samples)
        self.size = size
        self.stride = stride  # of the network's feature map, for the box cover grid
        self.seed = seed
        self.train = train
        self.epoch = 0
        it = tqdm(self.samples, desc="decode", disable=not progress, leave=False)
        side = cache_side or cache_size(size)
        self.cache = [load_cached(s.path, side) for s in it]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> Item:
        s = self.samples[i]
        img = self.cache[i]
        fire_boxes, smoke_boxes = s.fire_boxes, s.smoke_boxes
        if self.train:
            # one RNG per (seed, epoch, index): reproducible whatever the sampling order
            rng = np.random.default_rng([self.seed, self.epoch, i])
            img, fire_boxes, smoke_boxes = augment_with_boxes(
                img, s.fire_boxes, s.smoke_boxes, rng, self.size
            )
            x = normalize_rgb(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        else:
            x = preprocess(img, self.size)[0]
        cover = np.stack(
            [
                box_coverage(fire_boxes, self.size, self.stride),
                box_coverage(smoke_boxes, self.size, self.stride),
            ]
        )
        return torch.from_numpy(x), torch.from_numpy(s.target), torch.from_numpy(cover)


def cam_losses(
    net: FireNet, feats: torch.Tensor, y: torch.Tensor, cover: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(localisation, negative-cell) losses on the exact CAM ``w_k . F + b_k`` (module docstring).

    Localisation: mean over (image, class) pairs that are positive and have box cover of the
    KL divergence from the normalised box cover to the spatial softmax of the CAM (cross-entropy
    minus the cover's entropy, so 0 is perfect). Negative cells: mean BCE-with-logits against 0
    over every cell of every (image, class) pair that is negative."""
    cam = torch.einsum("kc,nchw->nkhw", net.head.weight, feats) + net.head.bias[None, :, None, None]
    if cam.shape != cover.shape:
        raise ValueError(f"CAM {tuple(cam.shape)} and box cover {tuple(cover.shape)} differ")
    flat = cam.flatten(2)  # (N, K, cells)
    cov = cover.flatten(2)
    mass = cov.sum(dim=2)
    pos = (y > 0.5) & (mass > 0)
    if pos.any():
        q = cov[pos] / mass[pos][:, None]
        logp = torch.log_softmax(flat[pos], dim=1)
        ent = torch.special.xlogy(q, q).sum(dim=1)
        loc = (ent - (q * logp).sum(dim=1)).mean()
    else:
        loc = flat.sum() * 0.0
    neg = y < 0.5
    if neg.any():
        cells = flat[neg]
        neg_loss = nn.functional.binary_cross_entropy_with_logits(cells, torch.zeros_like(cells))
    else:
        neg_loss = flat.sum() * 0.0
    return loc, neg_loss


def seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    cv2.setNumThreads(1)
    cv2.setRNGSeed(seed)


def balanced_sampler(
    samples: Sequence[Sample], seed: int, num_samples: int, negative_share: float | None = None
) -> WeightedRandomSampler:
    """Each stratum (fire / smoke / both / none) is drawn equally often in expectation, or, with
    ``negative_share``, "none" takes that share of the draws and the other strata split the rest."""
    counts = Counter(s.kind for s in samples)
    share = dict.fromkeys(counts, 1.0)  # the exact weights of fire@2's runs
    if negative_share is not None and "none" in counts and len(counts) > 1:
        if not 0.0 < negative_share < 1.0:
            raise ValueError(f"negative_share must be in (0, 1), got {negative_share}")
        rest = (1.0 - negative_share) / (len(counts) - 1)
        share = {k: negative_share if k == "none" else rest for k in counts}
    weights = [share[s.kind] / counts[s.kind] for s in samples]
    gen = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(weights, num_samples=num_samples, replacement=True, generator=gen)


def build_model(pretrained: Path, blocks: int = BACKBONE_BLOCKS) -> FireNet:
    net = FireNet(blocks)
    net.load_imagenet(pretrained)
    net.freeze_early()
    return net


def predict(
    net: FireNet, ds: FireDataset, batch_size: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """Scores (N, 2), targets (N, 2) and the mean BCE loss of a dataset, in eval mode."""
    net.eval()
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False)
    scores, targets, losses = [], [], []
    with torch.no_grad():
        for x, y, _cover in loader:
            logits, _ = net(x)
            losses.append(
                float(nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum"))
            )
            scores.append(torch.sigmoid(logits).numpy())
            targets.append(y.numpy())
    n = max(1, len(ds))
    return (
        np.concatenate(scores).astype(np.float64),
        np.concatenate(targets).astype(np.float64),
        sum(losses) / (n * len(CLASSES)),
    )


def _optimizer(net: FireNet, cfg: TrainConfig) -> torch.optim.Optimizer:
    backbone = [p for p in net.backbone.parameters() if p.requires_grad]
    head = list(net.neck.parameters()) + list(net.head.parameters())
    return torch.optim.AdamW(
        [{"params": backbone, "lr": cfg.backbone_lr}, {"params": head, "lr": cfg.lr}],
        weight_decay=cfg.weight_decay,
    )


def _train_epoch(
    net: FireNet,
    loader: DataLoader[Item],
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    cfg: TrainConfig,
    epoch: int,
) -> float:
    net.train()
    total, n = 0.0, 0
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=not cfg.progress, leave=False)
    for step, (x, y, cover) in enumerate(bar):
        if cfg.max_steps is not None and step >= cfg.max_steps:
            break
        logits, feats = net(x)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
        if cfg.cam_loss > 0 or cfg.cam_neg_loss > 0:
            loc, neg = cam_losses(net, feats, y, cover)
            loss = loss + cfg.cam_loss * loc + cfg.cam_neg_loss * neg
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(x)
        n += len(x)
        bar.set_postfix(loss=f"{total / n:.4f}")
    return total / max(1, n)


def _val_metrics(scores: npt.NDArray[np.float64], targets: npt.NDArray[np.float64]) -> dict[
    str, float
]:
    out: dict[str, float] = {}
    for k, name in enumerate(CLASSES):
        auc = metrics.roc_auc(targets[:, k], scores[:, k])
        out[f"{name}_auc"] = float("nan") if auc is None else auc
        out[f"{name}_f1@0.5"] = metrics.prf1(targets[:, k] > 0.5, scores[:, k] >= 0.5)[2]
    return out


def train(cfg: TrainConfig, split: Split | None = None) -> TrainResult:
    """Run a full training; writes ``fire_best.pt`` and ``train_report.json`` into ``cfg.out``."""
    seed_everything(cfg.seed, cfg.threads)
    cfg.out.mkdir(parents=True, exist_ok=True)
    if split is None:
        split = split_for(cfg)
    write_report(split, cfg.out / "split_report.json")
    log.info("split: fit %d, val %d images", len(split.fit), len(split.val))

    stride = feature_stride(cfg.backbone_blocks)
    fit_ds = FireDataset(
        split.fit, cfg.input_size, cfg.seed, train=True, progress=cfg.progress, stride=stride
    )
    val_ds = FireDataset(
        split.val, cfg.input_size, cfg.seed, train=False, progress=cfg.progress, stride=stride
    )
    net = build_model(cfg.pretrained, cfg.backbone_blocks)
    opt = _optimizer(net, cfg)
    per_epoch = min(len(fit_ds), cfg.samples_per_epoch)
    steps_per_epoch = math.ceil(per_epoch / cfg.batch_size)
    if cfg.max_steps is not None:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=[cfg.backbone_lr, cfg.lr],
        total_steps=max(2, cfg.epochs * steps_per_epoch),
        pct_start=0.15,
    )

    ckpt = cfg.out / "fire_best.pt"
    best_loss, bad_epochs = math.inf, 0
    history: list[dict[str, float]] = []
    t0 = time.monotonic()
    for epoch in range(cfg.epochs):
        fit_ds.epoch = epoch
        loader = DataLoader(
            fit_ds,
            batch_size=cfg.batch_size,
            sampler=balanced_sampler(split.fit, cfg.seed + epoch, per_epoch, cfg.negative_share),
        )
        train_loss = _train_epoch(net, loader, opt, sched, cfg, epoch)
        scores, targets, val_loss = predict(net, val_ds, cfg.batch_size)
        row = {"epoch": float(epoch), "train_loss": train_loss, "val_loss": val_loss}
        row.update(_val_metrics(scores, targets))
        history.append(row)
        log.info("epoch %d %s", epoch, json.dumps({k: round(v, 4) for k, v in row.items()}))
        if cfg.refit or cfg.refit_drones:  # val has no positives: its loss cannot pick an epoch
            best_loss = val_loss
            torch.save(net.state_dict(), ckpt)
        elif val_loss < best_loss - 1e-4:
            best_loss, bad_epochs = val_loss, 0
            torch.save(net.state_dict(), ckpt)
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                log.info("early stop after epoch %d (best val loss %.4f)", epoch, best_loss)
                break

    return _finish(cfg, split, val_ds, ckpt, history, best_loss, time.monotonic() - t0)


def choose_thresholds(
    scores: npt.NDArray[np.float64], targets: npt.NDArray[np.float64], cfg: TrainConfig
) -> dict[str, float]:
    """Per class, the F1-best threshold among those at which at most ``max_val_false_alarm`` of
    val's scene-level negatives (no fire, no smoke) score at or above it."""
    none = ~(targets > 0.5).any(axis=1)
    return {
        name: metrics.capped_f1_threshold(
            targets[:, k] > 0.5,
            scores[:, k],
            none,
            cfg.max_val_false_alarm,
            floor=cfg.threshold_floor,
        )
        for k, name in enumerate(CLASSES)
    }


def _finish(
    cfg: TrainConfig,
    split: Split,
    val_ds: FireDataset,
    ckpt: Path,
    history: list[dict[str, float]],
    best_loss: float,
    seconds: float,
) -> TrainResult:
    """Reload the best checkpoint, choose thresholds on the validation split, write the report.

    With ``threshold_view="node"`` the thresholds are chosen on val images resized straight from
    the file to the input size, as the node and the evaluation do; training's val set (``val_ds``,
    early stopping, and the thresholds with ``"cache"``) goes through the larger crop cache first,
    which shifts scores a little (fire@2: 0.58/0.57 cache view, 0.61/0.58 node view)."""
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    if blocks_in(state) != cfg.backbone_blocks:
        raise ValueError(
            f"{ckpt} was trained with --backbone-blocks {blocks_in(state)}, "
            f"not {cfg.backbone_blocks}"
        )
    net = build_model(cfg.pretrained, cfg.backbone_blocks)
    net.load_state_dict(state)
    scores, targets, val_loss = predict(net, val_ds, cfg.batch_size)
    if cfg.threshold_view == "node":
        node_view = FireDataset(
            split.val,
            cfg.input_size,
            cfg.seed,
            False,
            cfg.progress,
            cache_side=cfg.input_size,
            stride=feature_stride(cfg.backbone_blocks),
        )
        scores, targets, _ = predict(net, node_view, cfg.batch_size)
    elif cfg.threshold_view != "cache":
        raise ValueError(f"threshold_view must be 'cache' or 'node', got {cfg.threshold_view!r}")
    thresholds = choose_thresholds(scores, targets, cfg)
    report = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(cfg).items()},
        "split": split.report,
        "history": history,
        "best_val_loss": best_loss if math.isfinite(best_loss) else val_loss,
        "thresholds": thresholds,
        "train_seconds": round(seconds, 1),
    }
    report_path = cfg.out / "train_report.json"
    report_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return TrainResult(ckpt, thresholds, history, report_path)


def split_seed_of(cfg: TrainConfig) -> int:
    return cfg.seed if cfg.split_seed is None else cfg.split_seed


def split_for(cfg: TrainConfig) -> Split:
    """The one split a training config defines (training, thresholds and INT8 calibration
    must all see the same images)."""
    return make_split(
        cfg.data,
        cfg.negatives,
        seed=split_seed_of(cfg),
        val_fraction=cfg.val_fraction,
        max_images=cfg.max_images,
        disjoint_from_test=cfg.disjoint_from_test,
        weapons_images=cfg.weapons,
        refit=cfg.refit,
        refit_drones=cfg.refit_drones,
    )


def finish_from_checkpoint(cfg: TrainConfig) -> TrainResult:
    """Thresholds and report for a run stopped by hand: its best checkpoint so far is kept."""
    seed_everything(cfg.seed, cfg.threads)
    split = split_for(cfg)
    val_ds = FireDataset(
        split.val,
        cfg.input_size,
        cfg.seed,
        train=False,
        progress=cfg.progress,
        stride=feature_stride(cfg.backbone_blocks),
    )
    # keep the history and time of the run that wrote the checkpoint
    old = cfg.out / "train_report.json"
    prior = json.loads(old.read_text()) if old.is_file() else {}
    return _finish(
        cfg,
        split,
        val_ds,
        cfg.out / "fire_best.pt",
        prior.get("history", []),
        float(prior.get("best_val_loss", math.inf)),
        float(prior.get("train_seconds", 0.0)),
    )


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_train_arguments(p)
    return config_from_args(p.parse_args(argv))


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="fire_smoke folder (train/, valid/)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--negatives", type=Path, default=None, help="drone images: hard negatives")
    p.add_argument(
        "--weapons", type=Path, default=None, help="weapons-set images folder: scene negatives"
    )
    p.add_argument("--pretrained", type=Path, default=None, help=f"{DEFAULT_PRETRAINED} path")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--backbone-blocks",
        type=int,
        default=BACKBONE_BLOCKS,
        choices=sorted(CUTS),
        help="MobileNetV2 features[:N] (14: stride 16, fire@3; 15-17: stride 32)",
    )
    p.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="seed of the fit/val/held-out split (default: --seed); a seed-ensemble member "
        "keeps the shipped model's split",
    )
    p.add_argument(
        "--threshold-floor", type=float, default=0.5, help="lowest operating threshold"
    )
    p.add_argument(
        "--threshold-view",
        choices=("cache", "node"),
        default="cache",
        help="val images for thresholds: via the crop cache (fire@2) or resized as the node does",
    )
    p.add_argument(
        "--patience", type=int, default=3, help="early stop after this many epochs without gain"
    )
    p.add_argument("--input-size", type=int, default=192)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--cam-loss", type=float, default=0.0, help="weight of the CAM box localisation loss"
    )
    p.add_argument(
        "--cam-neg-loss",
        type=float,
        default=0.0,
        help="weight of the per-cell CAM BCE on classes an image is negative for",
    )
    p.add_argument(
        "--include-valid-clips",
        action="store_true",
        help="also train on train/ clips that appear in valid/ (valid/ numbers become optimistic)",
    )
    p.add_argument(
        "--refit",
        action="store_true",
        help="train on every train/ image for exactly --epochs (take the count from a run with "
        "the full val split); val keeps its scene negatives for the false-alarm-capped thresholds",
    )
    p.add_argument(
        "--refit-drones",
        action="store_true",
        help="with --refit: also fit val's drone sessions; the weapons groups alone bound the "
        "thresholds",
    )
    p.add_argument(
        "--samples-per-epoch", type=int, default=480, help="balanced draws per epoch"
    )
    p.add_argument(
        "--negative-share",
        type=float,
        default=None,
        help="share of scene negatives among the draws (default: the four strata alike)",
    )
    p.add_argument("--smoke", action="store_true", help="a few steps on a handful of images")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--finish", action="store_true", help="only choose thresholds for OUT/fire_best.pt"
    )


def config_from_args(a: argparse.Namespace) -> TrainConfig:
    pretrained = a.pretrained
    if pretrained is None:
        pretrained = a.data.parent.parent / "models" / DEFAULT_PRETRAINED
    cfg = TrainConfig(
        data=a.data,
        out=a.out,
        pretrained=pretrained,
        negatives=a.negatives,
        weapons=getattr(a, "weapons", None),
        seed=a.seed,
        split_seed=getattr(a, "split_seed", None),
        backbone_blocks=getattr(a, "backbone_blocks", BACKBONE_BLOCKS),
        epochs=a.epochs,
        patience=getattr(a, "patience", 3),
        threshold_floor=getattr(a, "threshold_floor", 0.5),
        threshold_view=getattr(a, "threshold_view", "cache"),
        input_size=a.input_size,
        threads=a.threads,
        cam_loss=getattr(a, "cam_loss", 0.0),
        cam_neg_loss=getattr(a, "cam_neg_loss", 0.0),
        disjoint_from_test=not a.include_valid_clips,
        refit=getattr(a, "refit", False),
        refit_drones=getattr(a, "refit_drones", False),
        samples_per_epoch=getattr(a, "samples_per_epoch", 480),
        negative_share=getattr(a, "negative_share", None),
        progress=not a.no_progress,
    )
    if a.smoke:
        cfg.epochs, cfg.max_images, cfg.max_steps, cfg.batch_size = 1, 8, 2, 4
        cfg.input_size = 96
    return cfg


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_train_arguments(p)
    args = p.parse_args(argv)
    cfg = config_from_args(args)
    result = finish_from_checkpoint(cfg) if args.finish else train(cfg)
    print(json.dumps({"checkpoint": str(result.checkpoint), "thresholds": result.thresholds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
