"""Fine-tune YOLOX-nano (COCO weights imported from ONNX) to the node's suspect classes.

    nice -n 10 .venv-train/bin/python -m models.suspect.train --shared ../shared \\
        --out runs/suspect/real416 --cache runs/suspect/c416 --size 416 --iters N \
        [--generated runs/suspect/mixsrc/mix] [--scale-jitter] [--rot90]
        [--unfreeze dark4 --init CKPT] [--ema DECAY] [--l1 W [--l1-from F]]
        [--jitter-copies N]

Data (splits by source clip/session, seed 0, written to ``<out>/splits.json``):

* ``shared/datasets/weapons/train`` (0 = pistol, 1 = knife, 2 = long gun: see ``splits.py``),
  ``shared/datasets/drones`` (0 = drone);
* optional generated images (``citywatch-train data mix``), training only.

The trained head predicts ``pistol, long_gun, knife, drone`` only (``HEAD_CLASSES``): ``person``
comes from YOLOX-nano's own neck and head in the exported :class:`MergedDetector`, which shares
the frozen part below, so people in these exports (not labelled) are plain background here. The
knife predictor starts from COCO's.

Compute (2 shared CPU cores): images are letterboxed once to the input size (cached as JPEG with
their targets); the CSPDarknet and the first top-down neck step (``neck_top``) are frozen and
their outputs computed once, plain and mirrored (float16 memory maps), so an iteration runs only
the rest of the PAFPN neck and the head; one torch thread; a fixed number of iterations (the
same budget for every run); the checkpoint with the best validation mAP@0.5 over the suspect
classes is kept. v3 (``--unfreeze dark4 --init <v2 best.pt>``): only stem .. dark3 stay frozen
(their cached c3 output is the input), dark4, dark5 and the whole neck learn too, warm-started
from v2's trained neck and head; the exported merged model then shares only stem .. dark3
(``export.py --shared-part dark3``). Augmentation: mirroring, and with ``--scale-jitter`` one
scale-jittered copy of every training image (cached like the rest), and with ``--rot90`` one
copy turned by a quarter turn (cached too). Round 6: ``--ema DECAY`` keeps YOLOX's EMA of
the trained weights (:class:`ModelEMA`, ramp iters/20), which validation and ``best.pt`` then
use; ``--l1 W`` adds YOLOX's L1 loss on the raw box outputs of the SimOTA positives
(:func:`l1_targets`); both off by default. Round 7: ``--l1-from F`` turns the L1 term on only
for iterations >= F * iters (YOLOX's schedule: L1 for the last epochs; :func:`l1_weight_at`),
and ``--jitter-copies N`` caches N scale-jittered copies of every training image, copy ``j``
drawn with seed ``j`` in folder ``jitter`` (j = 0, v2/v4's copy) or ``jitter<j>``
(:func:`jitter_copies`). Test splits are never looked at here.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812 (the usual torch idiom)

from models.suspect.dataset import (
    Dataset,
    LabeledImage,
    read_yolo,
    remap,
)
from models.suspect.evaluate import Truth, detection_metrics, raw_to_prediction
from models.suspect.splits import CLASSES, make_splits
from models.suspect.yolox_torch import YoloxNano, load_onnx_weights, with_classes
from node.detect.preprocess import preprocess

# the whole CSPDarknet and the first top-down neck step: shared with YOLOX-nano's own person
# path in the exported MergedDetector, so they must stay exactly COCO's
FROZEN = ("backbone.stem", "backbone.dark", "backbone.lateral_conv0", "backbone.C3_p4")
# v3 (``--unfreeze dark4``): stem .. dark3 stay COCO's (their c3 output is cached), dark4, dark5
# and the whole neck learn; the exported merged model then holds its own copy of them
FROZEN_BY_MODE = {
    "neck": FROZEN,
    "dark5": ("backbone.stem", "backbone.dark2", "backbone.dark3", "backbone.dark4"),
    "dark4": ("backbone.stem", "backbone.dark2", "backbone.dark3"),
}
HEAD_CLASSES = tuple(c for c in CLASSES if c != "person")  # what the trained head predicts


def read_generated(folder: Path) -> Dataset:
    """A ``citywatch-train data mix`` folder; its ``data.yaml`` class order is remapped to
    CLASSES."""
    import yaml

    names = list(yaml.safe_load((folder / "data.yaml").read_text())["names"])
    unknown = [n for n in names if n not in CLASSES]
    if unknown:
        raise ValueError(f"{folder}/data.yaml: classes {unknown} are not in {CLASSES}")
    return remap(read_yolo(folder, names), {n: n for n in names}, CLASSES)


def splits_summary(splits: dict[str, dict[str, list[LabeledImage]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for src, parts in splits.items():
        out[src] = {
            k: {"images": len(v), "groups": sorted({i.group for i in v}),
                "files": sorted(i.image.name for i in v)}
            for k, v in parts.items()
        }  # fmt: skip
    return out


# --- cache ---------------------------------------------------------------------------------


@dataclass
class Cached:
    path: Path  # letterboxed JPEG at the input size
    targets: np.ndarray  # (N, 5) class, x1, y1, x2, y2 in input pixels


def scale_jitter(
    img: np.ndarray, boxes: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image at a random scale (x0.5..x1.5 of the letterbox fit, log-uniform) at a random
    place on the ``size`` canvas (pad 114): zoomed out it is smaller with grey around it, zoomed
    in a crop. Boxes (normalised xyxy) mapped, clipped; kept when >= 50 % stays visible.
    Returns the canvas, the pixel boxes and the keep mask."""
    h, w = img.shape[:2]
    scale = min(size / h, size / w) * float(np.exp(rng.uniform(np.log(0.5), np.log(1.5))))
    sw, sh = w * scale, h * scale
    dx = rng.uniform(min(0.0, size - sw), max(0.0, size - sw))
    dy = rng.uniform(min(0.0, size - sh), max(0.0, size - sh))
    m = np.asarray([[scale, 0, dx], [0, scale, dy]], np.float32)
    canvas = cv2.warpAffine(
        img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
        borderValue=(114, 114, 114),
    )  # fmt: skip
    px = boxes * np.asarray([w, h, w, h], np.float32) * scale + np.asarray([dx, dy, dx, dy])
    clipped = np.clip(px, 0, size).astype(np.float32)
    area = (px[:, 2:] - px[:, :2]).prod(1)
    vis = np.clip(clipped[:, 2:] - clipped[:, :2], 0, None)
    keep = (vis.prod(1) >= 0.5 * area) & (vis.min(1) >= 2) if len(px) else np.zeros(0, bool)
    return canvas, clipped, keep


def rot90(img: np.ndarray, boxes: np.ndarray, clockwise: bool) -> tuple[np.ndarray, np.ndarray]:
    """The image turned by a quarter turn (clockwise or not) and its boxes (normalised xyxy),
    exactly: pixel (x, y) of a ``w`` x ``h`` image goes to (h - 1 - y, x) clockwise, to
    (y, w - 1 - x) counter-clockwise, so a box's edges go to x' = 1 - y, y' = x (clockwise) or
    x' = y, y' = 1 - x (counter-clockwise) in normalised coordinates."""
    b = boxes.reshape(-1, 4)
    if clockwise:
        out = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
        nb = np.stack([1 - b[:, 3], b[:, 0], 1 - b[:, 1], b[:, 2]], 1)
    else:
        out = cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
        nb = np.stack([b[:, 1], 1 - b[:, 2], b[:, 3], 1 - b[:, 0]], 1)
    return out, nb.astype(np.float32)


def build_cache(
    items: list[LabeledImage], size: int, folder: Path, jitter_seed: int | None = None,
    rot_seed: int | None = None,
) -> list[Cached]:  # fmt: skip
    """Letterboxed images and pixel targets; with ``jitter_seed`` a scale-jittered copy instead
    (:func:`scale_jitter`, image ``k`` drawn with ``default_rng([jitter_seed, k])``); with
    ``rot_seed`` the image turned by a quarter turn first (:func:`rot90`, clockwise or not drawn
    with ``default_rng([rot_seed, k])``), then letterboxed like the plain copy."""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "targets.npz"
    if index.exists():
        saved = np.load(index)
        names = [f"{k:05d}_{it.image.stem[:40]}.jpg" for k, it in enumerate(items)]
        if all(n in saved for n in names):
            return [Cached(folder / n, saved[n]) for n in names]
    out = []
    for k, it in enumerate(items):
        img = cv2.imread(str(it.image), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        ids, boxes = it.class_ids, it.boxes
        if rot_seed is not None:
            cw = bool(np.random.default_rng([rot_seed, k]).random() < 0.5)
            img, boxes = rot90(img, boxes, cw)
            h, w = img.shape[:2]
        if jitter_seed is None:
            lb = preprocess(img, (size, size))
            canvas = lb.tensor[0].transpose(1, 2, 0).astype(np.uint8)
            px = boxes * np.asarray([w, h, w, h], np.float32) * lb.ratio
        else:
            rng = np.random.default_rng([jitter_seed, k])
            canvas, px, keep = scale_jitter(img, boxes, size, rng)
            ids, px = ids[keep], px[keep]
        dest = folder / f"{k:05d}_{it.image.stem[:40]}.jpg"
        if not dest.exists():
            cv2.imwrite(str(dest), canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(Cached(dest, np.concatenate([ids[:, None], px], 1).astype(np.float32)))
    np.savez(index, **{c.path.name: c.targets for c in out})
    return out


@dataclass
class Features:
    """Frozen outputs (CSPDarknet c3, neck_top) of cached images, plain and mirrored, float16."""

    c3: np.ndarray  # (N, 2, 64, S/8, S/8)
    p5: np.ndarray  # fpn_out0 (N, 2, 128, S/32, S/32)
    p4: np.ndarray  # f_out0 (N, 2, 128, S/16, S/16)


def feature_cache(net: YoloxNano, items: list[Cached], size: int, folder: Path) -> Features:
    """Compute once (the frozen part is most of the forward pass); memory-map afterwards."""
    shapes = {"c3": (64, size // 8), "p5": (128, size // 32), "p4": (128, size // 16)}
    paths = {k: folder / f"{k}_{size}_top.f16" for k in shapes}
    done = folder / f"features_{size}_top.done"
    mode = "r" if done.exists() else "w+"
    maps = {
        k: np.lib.format.open_memmap(paths[k], mode=mode, dtype=np.float16,
                                     shape=(len(items), 2, c, s, s))
        for k, (c, s) in shapes.items()
    }  # fmt: skip
    if mode == "w+":
        with torch.no_grad():
            for i, c in enumerate(items):
                img = cv2.imread(str(c.path), cv2.IMREAD_COLOR)
                both = np.stack([img, img[:, ::-1]]).transpose(0, 3, 1, 2).astype(np.float32)
                c3, c4, c5 = net.backbone.darknet(torch.from_numpy(both))
                feats = (c3, *net.backbone.neck_top(c4, c5))
                for k, f in zip(shapes, feats, strict=True):
                    maps[k][i] = f.numpy().astype(np.float16)
                if i % 200 == 0:
                    print(f"features {i}/{len(items)}", flush=True)
        for m in maps.values():
            m.flush()
        done.touch()
    return Features(maps["c3"], maps["p5"], maps["p4"])


def feature_batch(
    feats: list[tuple[Features, int]], flips: list[bool]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    out = []
    for level in ("c3", "p5", "p4"):
        arr = np.stack(
            [getattr(f, level)[i, int(fl)] for (f, i), fl in zip(feats, flips, strict=True)]
        )
        out.append(torch.from_numpy(arr.astype(np.float32)))
    return out[0], out[1], out[2]


def head_targets(t: np.ndarray) -> np.ndarray:
    """Targets with ``CLASSES`` ids -> the trained head's ``HEAD_CLASSES`` ids (no person)."""
    names = [CLASSES[int(c)] for c in t[:, 0]]
    if "person" in names:
        raise ValueError("person boxes in the training targets: the trained head has no person")
    t = t.copy()
    t[:, 0] = [HEAD_CLASSES.index(n) for n in names]
    return t


def flip_targets(t: np.ndarray, size: int) -> np.ndarray:
    t = t.copy()
    t[:, [1, 3]] = size - t[:, [3, 1]]
    return t


# --- SimOTA loss (YOLOX) -------------------------------------------------------------------


def grid_of(size: int, strides: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    grids, exp = [], []
    for s in strides:
        n = size // s
        yv, xv = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        grids.append(torch.stack((xv, yv), 2).reshape(-1, 2))
        exp.append(torch.full((n * n,), s))
    return torch.cat(grids).float(), torch.cat(exp).float()


def pair_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU on torch tensors, for SimOTA and the IoU loss: they need autograd and the
    training device, which ``node.boxes.box_iou`` (numpy, the one used everywhere else) cannot
    give. Same formula, with 1e-9 in the union as YOLOX has it."""
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None] - inter + 1e-9)


def simota(
    gt: torch.Tensor, boxes: torch.Tensor, obj: torch.Tensor, cls: torch.Tensor,
    grid: torch.Tensor, stride: torch.Tensor, num_classes: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """fg mask (A,), matched gt index per fg anchor, IoU per fg anchor."""
    centers = (grid + 0.5) * stride[:, None]
    g = gt[:, 1:]
    in_box = (centers[None] > g[:, None, :2]).all(2) & (centers[None] < g[:, None, 2:]).all(2)
    gc = (g[:, :2] + g[:, 2:]) / 2
    r = 2.5 * stride[None, :, None]
    in_ctr = ((centers[None] > gc[:, None] - r) & (centers[None] < gc[:, None] + r)).all(2)
    cand = (in_box | in_ctr).any(0)
    a_idx = cand.nonzero().squeeze(1)
    if a_idx.numel() == 0:
        return torch.zeros_like(cand), a_idx, torch.zeros(0)
    ious = pair_iou(g, boxes[a_idx])
    onehot = F.one_hot(gt[:, 0].long(), num_classes).float()
    p = (cls[a_idx].sigmoid() * obj[a_idx, None].sigmoid()).sqrt()
    cls_cost = F.binary_cross_entropy(
        p[None].expand(len(g), -1, -1), onehot[:, None].expand(-1, len(a_idx), -1),
        reduction="none",
    ).sum(-1)  # fmt: skip
    both = (in_box & in_ctr)[:, a_idx]
    cost = cls_cost + 3.0 * -torch.log(ious + 1e-8) + 1e5 * (~both).float()
    k = min(10, len(a_idx))
    dyn = torch.topk(ious, k, dim=1).values.sum(1).int().clamp(min=1)
    match = torch.zeros_like(cost, dtype=torch.bool)
    for i in range(len(g)):
        match[i, torch.topk(cost[i], int(dyn[i]), largest=False).indices] = True
    multi = match.sum(0) > 1
    if multi.any():
        best = cost[:, multi].argmin(0)
        match[:, multi] = False
        match[best, multi.nonzero().squeeze(1)] = True
    fg_local = match.any(0)
    gt_idx = match[:, fg_local].float().argmax(0)
    fg = torch.zeros_like(cand)
    fg[a_idx[fg_local]] = True
    return fg, gt_idx, ious[gt_idx, fg_local.nonzero().squeeze(1)]


def decode_raw(raw: torch.Tensor, grid: torch.Tensor, stride: torch.Tensor) -> torch.Tensor:
    """Raw YOLOX box rows (..., A, 4) -> pixel xyxy: xy = (raw + grid) * stride,
    wh = exp(raw) * stride (raw wh clamped at 10 against overflow)."""
    xy = (raw[..., :2] + grid) * stride[:, None]
    wh = torch.exp(raw[..., 2:4].clamp(max=10)) * stride[:, None]
    return torch.cat((xy - wh / 2, xy + wh / 2), -1)


def l1_targets(boxes: torch.Tensor, grid: torch.Tensor, stride: torch.Tensor) -> torch.Tensor:
    """Pixel xyxy boxes (N, 4) of the anchors at ``grid`` (N, 2) / ``stride`` (N,) -> the raw
    regression YOLOX's L1 loss aims at (``get_l1_target``): tx = cx / stride - grid_x, ty
    likewise, tw = log(w / stride + 1e-8), th likewise; :func:`decode_raw` inverts it."""
    s = stride[:, None]
    cxcy = (boxes[:, :2] + boxes[:, 2:]) / 2
    wh = boxes[:, 2:] - boxes[:, :2]
    return torch.cat((cxcy / s - grid, torch.log(wh / s + 1e-8)), 1)


def loss_fn(
    out: torch.Tensor, targets: list[torch.Tensor], grid: torch.Tensor, stride: torch.Tensor,
    l1: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """YOLOX's loss: (5 IoU + obj + cls [+ ``l1`` * L1]) / number of SimOTA positives. With
    ``l1`` > 0, the L1 term is sum_k |raw_k - t_k| over the 4 raw box outputs of each positive
    against :func:`l1_targets` of its matched box (YOLOX's ``l1_loss``), averaged over the
    positives like the other terms; ``l1`` = 0 builds exactly the loss without it."""
    nc = out.shape[2] - 5
    boxes = decode_raw(out[..., :4], grid, stride)
    l_iou = l_obj = l_cls = l_l1 = out.new_zeros(())
    n_fg = 0
    for b, gt in enumerate(targets):
        obj_t = torch.zeros(out.shape[1])
        if len(gt):
            with torch.no_grad():
                fg, gt_idx, _ = simota(gt, boxes[b].detach(), out[b, :, 4], out[b, :, 5:],
                                       grid, stride, nc)  # fmt: skip
            if fg.any():
                matched = gt[gt_idx]
                iou = pair_iou(boxes[b][fg], matched[:, 1:]).diagonal()
                l_iou = l_iou + (1 - iou**2).sum()
                cls_t = F.one_hot(matched[:, 0].long(), nc).float() * iou.detach()[:, None]
                l_cls = l_cls + F.binary_cross_entropy_with_logits(
                    out[b, fg, 5:], cls_t, reduction="sum"
                )
                if l1 > 0:
                    t = l1_targets(matched[:, 1:], grid[fg], stride[fg])
                    l_l1 = l_l1 + (out[b, fg, :4] - t).abs().sum()
                obj_t[fg] = 1.0
                n_fg += int(fg.sum())
        l_obj = l_obj + F.binary_cross_entropy_with_logits(out[b, :, 4], obj_t, reduction="sum")
    n = max(n_fg, 1)
    terms = [("iou", l_iou), ("obj", l_obj), ("cls", l_cls)]
    if l1 > 0:
        total = (5.0 * l_iou + l_obj + l_cls + l1 * l_l1) / n
        terms.append(("l1", l_l1))
    else:
        total = (5.0 * l_iou + l_obj + l_cls) / n
    parts = {k: round(float(v.detach()) / n, 3) for k, v in terms}
    return total, parts


def l1_weight_at(it: int, iters: int, weight: float, start: float = 0.0) -> float:
    """The L1 weight at iteration ``it`` (0-based) of ``iters``: ``weight`` once
    ``it >= start * iters``, 0 before (``start`` = 0: from the first iteration)."""
    return float(weight) if it >= start * iters else 0.0


class ModelEMA:
    """YOLOX's ``ModelEMA``: a copy of the model whose trainable parameters follow
    ``ema = d * ema + (1 - d) * w`` after every optimiser step, ``d = decay * (1 -
    exp(-updates / ramp))`` (small at first, so the early average is not stuck at the start
    weights). Everything else in the state dict (frozen parameters, buffers) is copied exactly,
    so the frozen COCO layers stay bit-identical."""

    def __init__(self, model: torch.nn.Module, decay: float, ramp: float) -> None:
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay, self.ramp, self.updates = decay, ramp, 0

    def d(self) -> float:
        return self.decay * (1 - math.exp(-self.updates / self.ramp))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = self.d()
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        src = model.state_dict()
        for k, v in self.model.state_dict().items():
            if k in trainable:
                v.mul_(d).add_(src[k].detach(), alpha=1 - d)
            else:
                v.copy_(src[k])


# --- validation and the loop ---------------------------------------------------------------------


def forward_features(
    net: YoloxNano, feats: tuple[torch.Tensor, ...], mode: str = "neck"
) -> torch.Tensor:
    """Raw rows from cached features: ``neck`` (v2) runs the neck's rest on cached (c3, neck_top);
    ``dark5`` / ``dark4`` run from the cached c3 through the (partly) trainable darknet."""
    bb = net.backbone
    c3 = feats[0]
    if mode == "neck":
        return net.head(bb.neck_rest(*feats))
    if mode == "dark5":
        with torch.no_grad():
            c4 = bb.dark4(c3)
    elif mode == "dark4":
        c4 = bb.dark4(c3)
    else:
        raise ValueError(f"unknown unfreeze mode {mode!r}")
    return net.head(bb.neck(c3, c4, bb.dark5(c4)))


def predict_features(
    net: YoloxNano, feats: tuple[torch.Tensor, ...], mode: str = "neck"
) -> torch.Tensor:
    """Sigmoid-applied rows from cached darknet features (what the exported graph outputs)."""
    out = forward_features(net, feats, mode)
    return torch.cat((out[..., :4], out[..., 4:].sigmoid()), dim=-1)


def validate(
    net: YoloxNano, val: list[Cached], feats: Features, size: int, mode: str = "neck"
) -> dict[str, dict[str, Any]]:
    net.eval()
    preds, truths = [], []
    with torch.no_grad():
        for i, c in enumerate(val):
            raw = predict_features(net, feature_batch([(feats, i)], [False]), mode)
            preds.append(raw_to_prediction(raw.numpy(), (size, size), 1.0, (size, size),
                                           HEAD_CLASSES, CLASSES))  # fmt: skip
            truths.append(Truth(c.targets[:, 1:], c.targets[:, 0].astype(np.int64)))
    net.train()
    return detection_metrics(preds, truths, CLASSES, 0.3)


def _val_score(m: dict[str, dict[str, Any]]) -> float:
    aps = [float(v["ap50"]) for k, v in m.items() if k != "person" and v["gt"] > 0]
    return float(np.mean(aps)) if aps else 0.0


def jitter_copies(n: int) -> list[tuple[str, int]]:
    """(cache folder, seed) of the ``n`` scale-jittered copies: copy 0 is v2/v4's (``jitter``,
    seed 0, so its cache is reused unchanged), copy ``j`` >= 1 ``jitter<j>`` with seed ``j``."""
    if n < 1:
        raise ValueError(f"jitter copies must be >= 1, got {n}")
    return [("jitter" if j == 0 else f"jitter{j}", j) for j in range(n)]


def prepare(
    args: argparse.Namespace, net: YoloxNano
) -> tuple[list[tuple[Cached, Features, int]], list[Cached], Features, dict[str, Any]]:
    """Letterboxed images, targets and frozen features, all cached."""
    splits = make_splits(args.shared, seed=0)
    sources = {
        "train": [i for s in splits.values() for i in s["train"]],
        "val": [i for s in splits.values() for i in s["val"]],
    }
    if args.generated:
        sources["generated"] = read_generated(args.generated).items
    jitter_seed: dict[str, int] = {}
    if args.scale_jitter:  # N scale-jittered copies of every training image (default 1, seed 0)
        for name, seed in jitter_copies(getattr(args, "jitter_copies", 1)):
            sources[name] = sources["train"]
            jitter_seed[name] = seed
    if getattr(args, "rot90", False):  # one quarter-turned copy of every training image, seed 0
        sources["rot90"] = sources["train"]
    cached: dict[str, tuple[list[Cached], Features]] = {}
    for name, items in sources.items():
        folder = args.cache / (name if name != "generated" else f"gen_{args.generated.name}")
        c = build_cache(items, args.size, folder, jitter_seed.get(name),
                        0 if name == "rot90" else None)  # fmt: skip
        cached[name] = (c, feature_cache(net, c, args.size, folder))
        print(f"cache {name}: {len(c)} images", flush=True)
    train_set = [(c, f, i) for name in sources if name != "val"
                 for i, c in enumerate(cached[name][0]) for f in [cached[name][1]]]  # fmt: skip
    return train_set, cached["val"][0], cached["val"][1], splits_summary(splits)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    net = with_classes(load_onnx_weights(args.shared / "models/yolox_nano.onnx"), HEAD_CLASSES)
    if args.init:  # warm start, e.g. v2's trained neck + head (its darknet is COCO's)
        net.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    frozen = FROZEN_BY_MODE[args.unfreeze]
    t0 = time.time()
    train_set, val_c, val_f, summary = prepare(args, net)
    (out / "splits.json").write_text(json.dumps(summary, indent=1), "utf-8")
    print(f"prepared in {time.time() - t0:.0f}s", flush=True)
    if args.prepare_only:
        return {"prepared": len(train_set)}
    # the darknet is frozen (its features are cached); the neck and the head learn
    for name, p in net.named_parameters():
        p.requires_grad = not name.startswith(frozen)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=5e-4)
    warm = max(1, args.iters // 20)

    def lr_at(i: int) -> float:
        if i < warm:
            return float(args.lr * (i + 1) / warm)
        return float(args.lr * 0.5 * (1 + math.cos(math.pi * (i - warm) / (args.iters - warm))))

    grid, stride = grid_of(args.size, YoloxNano.strides)
    net.train()
    ema_ramp = max(1.0, args.iters / 20)
    ema = ModelEMA(net, args.ema, ema_ramp) if args.ema else None
    history: list[dict[str, Any]] = []
    best = -1.0
    order: list[int] = []
    t_train = time.time()
    for it in range(args.iters):
        if len(order) < args.batch:
            order += rng.sample(range(len(train_set)), len(train_set))
        batch = [train_set[order.pop()] for _ in range(args.batch)]
        flips = [rng.random() < 0.5 for _ in batch]
        feats = feature_batch([(f, i) for _, f, i in batch], flips)
        targets = [
            torch.from_numpy(head_targets(flip_targets(c.targets, args.size) if fl else c.targets))
            for (c, _, _), fl in zip(batch, flips, strict=True)
        ]
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        l1_w = l1_weight_at(it, args.iters, args.l1, args.l1_from)
        loss, parts = loss_fn(forward_features(net, feats, args.unfreeze), targets, grid, stride,
                              l1_w)  # fmt: skip
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        if ema is not None:
            ema.update(net)
        if it % 50 == 0:
            print(f"it {it} loss {float(loss):.3f} {parts} {time.time() - t_train:.0f}s",
                  flush=True)  # fmt: skip
        if (it + 1) % args.val_every == 0 or it + 1 == args.iters:
            # with --ema the EMA weights are validated and kept; the raw weights are validated
            # too and logged (their trajectory is the run without --ema: EMA only reads them)
            kept = ema.model if ema is not None else net
            m = validate(kept, val_c, val_f, args.size, args.unfreeze)
            score = _val_score(m)
            history.append({"iter": it + 1, "val_map50_suspect": round(score, 4),
                            "val": {k: v["ap50"] for k, v in m.items()},
                            "elapsed_s": round(time.time() - t_train)})  # fmt: skip
            if ema is not None:
                m_raw = validate(net, val_c, val_f, args.size, args.unfreeze)
                history[-1]["val_map50_suspect_raw"] = round(_val_score(m_raw), 4)
                history[-1]["val_raw"] = {k: v["ap50"] for k, v in m_raw.items()}
                history[-1]["ema_d"] = round(ema.d(), 6)
            print(history[-1], flush=True)
            if score > best:
                best = score
                torch.save(kept.state_dict(), out / "best.pt")
    report = {
        "classes": list(HEAD_CLASSES),
        "iters": args.iters,
        "batch": args.batch,
        "size": args.size,
        "lr": args.lr,
        "frozen": list(frozen),
        "unfreeze": args.unfreeze,
        "init": str(args.init) if args.init else None,
        "generated": str(args.generated) if args.generated else None,
        "scale_jitter": bool(args.scale_jitter),
        "rot90": bool(getattr(args, "rot90", False)),
        "ema": args.ema or None,
        "ema_ramp": ema_ramp if args.ema else None,
        "l1": args.l1,
        "l1_from": args.l1_from,
        "jitter_copies": args.jitter_copies if args.scale_jitter else 0,
        "train_images": len(train_set),
        "val_images": len(val_c),
        "train_seconds": round(time.time() - t_train),
        "best_val_map50_suspect": round(best, 4),
        "history": history,
    }
    (out / "train_report.json").write_text(json.dumps(report, indent=1), "utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shared", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cache", type=Path, default=Path("runs/suspect/cache"))
    p.add_argument(
        "--generated", type=Path, help="A generated YOLO folder (citywatch-train data mix)."
    )
    p.add_argument("--iters", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument(
        "--size", type=int, default=416,
        help="416: YOLOX-nano's own size, which the exported person path needs.",
    )  # fmt: skip
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale-jitter", action="store_true",
                   help="Add one scale-jittered copy of every training image.")  # fmt: skip
    p.add_argument("--rot90", action="store_true",
                   help="Add one copy of every training image turned by a quarter turn "
                        "(direction drawn per image, seed 0).")  # fmt: skip
    p.add_argument("--unfreeze", choices=sorted(FROZEN_BY_MODE), default="neck",
                   help="neck: v2 (darknet + neck_top frozen); dark5 / dark4: those darknet "
                        "stages and the whole neck learn too (v3).")  # fmt: skip
    p.add_argument("--init", type=Path, help="Start from this checkpoint (e.g. v2's best.pt).")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="Keep an EMA of the trained weights (YOLOX ModelEMA, ramp = iters / 20); "
                        "validation and best.pt use it. 0 (default): off.")  # fmt: skip
    p.add_argument("--l1", type=float, default=0.0, metavar="W",
                   help="Add YOLOX's L1 loss on the raw box outputs of the SimOTA positives, "
                        "weight W (0, default: off).")  # fmt: skip
    p.add_argument("--l1-from", type=float, default=0.0, metavar="FRACTION",
                   help="The L1 term is on only for iterations >= FRACTION * iters "
                        "(0, default: from the start).")  # fmt: skip
    p.add_argument("--jitter-copies", type=int, default=1, metavar="N",
                   help="With --scale-jitter: N scale-jittered copies of every training image, "
                        "copy j with seed j (copy 0 = the default single copy, cache 'jitter'; "
                        "copy j >= 1 in cache 'jitter<j>').")  # fmt: skip
    p.add_argument("--prepare-only", action="store_true", help="Build the caches and stop.")
    args = p.parse_args(argv)
    if args.jitter_copies != 1 and not args.scale_jitter:
        p.error("--jitter-copies needs --scale-jitter")
    if args.jitter_copies < 1:
        p.error("--jitter-copies must be >= 1")
    if not 0.0 <= args.l1_from <= 1.0:
        p.error("--l1-from is a fraction of the iterations, 0..1")
    report = train(args)
    print(json.dumps({k: v for k, v in report.items() if k != "history"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
