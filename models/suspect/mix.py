"""The synthetic generator: paste RGBA object cut-outs onto backgrounds, write YOLO labels + CSV.

Numpy/OpenCV only (``citywatch-train data mix`` runs it without torch). Per output image:

1. pick a background (a frame with no objects; images with no pasted object are hard negatives);
2. paste 1..``max_objects`` cut-outs: each is scaled (longest side a random fraction of the
   background's shorter side), rotated, maybe flipped, colour-matched to the background (Reinhard
   transfer in Lab, partial strength), and alpha-blended with a slightly feathered edge; a
   placement overlapping an earlier box by more than ``max_overlap`` (IoU) is retried;
3. optionally draw occluders (flat blobs) over part of an object;
4. every box is the tight box of the object's *visible* alpha mask (later pastes and occluders
   carve it); objects left less than ``min_visible`` visible are dropped from the labels.

Image ``i`` uses ``numpy.random.default_rng([seed, i])``: the same seed gives the same files,
whatever the number of images.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from models.suspect.dataset import CSV_HEADER, DatasetError, list_images, write_yolo_labels
from node.boxes import iou

# OpenCV's stubs type images as generic arrays; the generator only ever holds uint8 BGR(A)
Image = npt.NDArray[Any]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MixParams:
    max_objects: int = 3
    min_size: float = 0.08  # longest object side / background shorter side
    max_size: float = 0.45
    max_rotation_deg: float = 20.0
    flip_p: float = 0.5
    color_match: float = 0.6  # max strength of the Lab transfer (0 = off)
    max_overlap: float = 0.15
    occluder_p: float = 0.0
    negative_p: float = 0.0  # share of images left with no object (hard negatives)
    min_visible: float = 0.6
    max_side: int = 640  # backgrounds are resized so the longest side is at most this
    feather: bool = True


@dataclass
class Pasted:
    class_id: int
    mask: Mask  # visible pixels, full-image
    area0: int  # pixels when pasted, before anything covered it


@dataclass
class Mixed:
    image: Image
    objects: list[Pasted] = field(default_factory=list)

    def boxes(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Class ids and normalised xyxy boxes (tight around each visible mask)."""
        h, w = self.image.shape[:2]
        ids, boxes = [], []
        for o in self.objects:
            ys, xs = np.nonzero(o.mask)
            ids.append(o.class_id)
            boxes.append((xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h))
        return np.asarray(ids, np.int64), np.asarray(boxes, np.float32).reshape(-1, 4)


# --- inputs -----------------------------------------------------------------------------------


def load_objects(folder: Path) -> tuple[list[str], list[list[Image]]]:
    """``folder/<class>/*.png`` RGBA cut-outs -> class names (sorted) and BGRA images."""
    if not folder.is_dir():
        raise DatasetError(folder, "objects folder not found")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(folder, "no class folders (expected one folder of RGBA per class)")
    cutouts: list[list[Image]] = []
    for name in classes:
        files = list_images(folder / name)
        if not files:
            raise DatasetError(folder / name, "empty class folder: no images")
        imgs = []
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise DatasetError(f, "cannot read image")
            if img.ndim != 3 or img.shape[2] != 4:
                raise DatasetError(f, "not an RGBA image (no alpha channel); cut it out first")
            if int((img[..., 3] > 127).sum()) < 16:
                raise DatasetError(f, "alpha channel is (almost) empty")
            imgs.append(_crop_to_alpha(img))
        cutouts.append(imgs)
    return classes, cutouts


def load_backgrounds(folder: Path, max_side: int) -> list[Image]:
    files = list_images(folder)
    if not files:
        raise DatasetError(folder, "no background images")
    out = []
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(f, "cannot read image")
        out.append(_fit(img, max_side))
    return out


def _fit(img: Image, max_side: int) -> Image:
    s = max_side / max(img.shape[:2])
    if s >= 1:
        return img
    return cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)


def _crop_to_alpha(bgra: Image) -> Image:
    ys, xs = np.nonzero(bgra[..., 3] > 127)
    return np.ascontiguousarray(bgra[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def grabcut_cutout(image: Image, box: Sequence[float], iterations: int = 3) -> Image:
    """A BGRA cut-out of the object in pixel ``box`` (x1, y1, x2, y2), by GrabCut from the rect.

    For users with boxed photos but no transparent images. Falls back to the full rectangle
    when GrabCut keeps too little (thin or low-contrast objects).
    """
    h, w = image.shape[:2]
    x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
    x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x2 - x1 < 4 or y2 - y1 < 4:
        raise ValueError(f"box too small for a cut-out: {box}")
    # a margin around the rect gives GrabCut some sure background to learn from
    m = max(4, (x2 - x1 + y2 - y1) // 20)
    ox1, oy1, ox2, oy2 = max(x1 - m, 0), max(y1 - m, 0), min(x2 + m, w), min(y2 + m, h)
    crop = np.ascontiguousarray(image[oy1:oy2, ox1:ox2])
    mask = np.zeros(crop.shape[:2], np.uint8)
    rect = (x1 - ox1, y1 - oy1, x2 - x1, y2 - y1)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(crop, mask, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
        fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    except cv2.error:
        fg = np.zeros(crop.shape[:2], np.bool_)
    rect_area = (x2 - x1) * (y2 - y1)
    if fg.sum() < 0.15 * rect_area:
        fg = np.zeros(crop.shape[:2], np.bool_)
        fg[rect[1] : rect[1] + rect[3], rect[0] : rect[0] + rect[2]] = True
    bgra = np.dstack([crop, (fg * 255).astype(np.uint8)])
    return _crop_to_alpha(bgra)


# --- transforms -------------------------------------------------------------------------------


def transform(obj: Image, longest: int, angle: float, flip: bool) -> Image:
    """Scale so the longest side is ``longest`` px, flip, rotate on an expanded canvas."""
    h, w = obj.shape[:2]
    s = longest / max(h, w)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    obj = cv2.resize(obj, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)
    if flip:
        obj = np.ascontiguousarray(obj[:, ::-1])
    if abs(angle) > 0.5:
        h, w = obj.shape[:2]
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cos, sin = abs(rot[0, 0]), abs(rot[0, 1])
        nw, nh = int(h * sin + w * cos) + 1, int(h * cos + w * sin) + 1
        rot[0, 2] += nw / 2 - w / 2
        rot[1, 2] += nh / 2 - h / 2
        obj = cv2.warpAffine(obj, rot, (nw, nh), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))  # fmt: skip
    if not (obj[..., 3] > 127).any():
        raise ValueError("object vanished after transform")
    return _crop_to_alpha(obj)


def color_match(obj_bgr: Image, alpha: Mask, region_bgr: Image, strength: float) -> Image:
    """Move the object's Lab mean/std toward the background region's by ``strength`` (0-1)."""
    if strength <= 0:
        return obj_bgr
    o = cv2.cvtColor(obj_bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    b = cv2.cvtColor(region_bgr, cv2.COLOR_BGR2LAB).astype(np.float32).reshape(-1, 3)
    px = o[alpha]
    mo, so = px.mean(0), px.std(0) + 1e-3
    mb, sb = b.mean(0), b.std(0) + 1e-3
    # luminance moves fully toward the scale of the target, chroma only partly (keep identity)
    target = (
        (o - mo) / so * (so + strength * (sb - so))
        + mo
        + strength * (mb - mo) * (np.asarray([1.0, 0.5, 0.5], np.float32))
    )
    return np.asarray(cv2.cvtColor(np.clip(target, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR))


def _paste(canvas: Image, obj: Image, x: int, y: int, feather: bool) -> Mask:
    """Alpha-blend BGRA ``obj`` at (x, y); returns the full-image mask of alpha > 0.5."""
    h, w = obj.shape[:2]
    alpha = obj[..., 3].astype(np.float32) / 255.0
    if feather and min(h, w) >= 8:
        # soften only the rim, so the pasted edge does not give the class away
        alpha = np.minimum(alpha, cv2.GaussianBlur(alpha, (3, 3), 0) + 0.25 * alpha)
        alpha = np.clip(alpha, 0.0, 1.0)
    roi = canvas[y : y + h, x : x + w].astype(np.float32)
    a = alpha[..., None]
    canvas[y : y + h, x : x + w] = (obj[..., :3] * a + roi * (1 - a) + 0.5).astype(np.uint8)
    mask = np.zeros(canvas.shape[:2], np.bool_)
    mask[y : y + h, x : x + w] = alpha > 0.5
    return mask


def _occlude(canvas: Image, target: Mask, rng: np.random.Generator) -> Mask:
    """A flat-coloured ellipse over up to ~40% of the target's box; returns its mask."""
    ys, xs = np.nonzero(target)
    x1, y1, x2, y2 = xs.min(), ys.min(), xs.max(), ys.max()
    bw, bh = x2 - x1 + 1, y2 - y1 + 1
    cx = int(rng.choice([x1, x2]))
    cy = int(rng.uniform(y1, y2))
    axes = (max(2, int(bw * rng.uniform(0.15, 0.35))), max(2, int(bh * rng.uniform(0.3, 0.6))))
    color = tuple(int(c) for c in rng.integers(0, 255, 3))
    occ = np.zeros(canvas.shape[:2], np.uint8)
    cv2.ellipse(occ, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    canvas[occ > 0] = color
    return occ > 0


# --- the generator ------------------------------------------------------------------------------


def mix_one(
    background: Image,
    cutouts: Sequence[Sequence[Image]],
    params: MixParams,
    rng: np.random.Generator,
) -> Mixed:
    canvas = background.copy()
    bh, bw = canvas.shape[:2]
    out = Mixed(canvas)
    if rng.random() < params.negative_p:
        return out
    n = int(rng.integers(1, params.max_objects + 1))
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(n):
        cid = int(rng.integers(len(cutouts)))
        src = cutouts[cid][int(rng.integers(len(cutouts[cid])))]
        longest = int(rng.uniform(params.min_size, params.max_size) * min(bh, bw))
        angle = float(rng.uniform(-params.max_rotation_deg, params.max_rotation_deg))
        obj = transform(src, max(8, longest), angle, bool(rng.random() < params.flip_p))
        oh, ow = obj.shape[:2]
        if oh >= bh or ow >= bw:
            continue
        for _try in range(10):
            x, y = int(rng.integers(0, bw - ow)), int(rng.integers(0, bh - oh))
            box = (x, y, x + ow, y + oh)
            if all(iou(box, b) <= params.max_overlap for b in boxes):
                break
        else:
            continue
        alpha = obj[..., 3] > 127
        strength = float(rng.uniform(0, params.color_match))
        bgr = color_match(obj[..., :3], alpha, canvas[y : y + oh, x : x + ow], strength)
        mask = _paste(canvas, np.dstack([bgr, obj[..., 3]]), x, y, params.feather)
        for o in out.objects:
            o.mask &= ~mask
        out.objects.append(Pasted(cid, mask, int(mask.sum())))
        boxes.append(box)
    for o in list(out.objects):
        if rng.random() < params.occluder_p and o.mask.any():
            occ = _occlude(canvas, o.mask, rng)
            for p in out.objects:
                p.mask &= ~occ
    out.objects = [o for o in out.objects if o.mask.sum() >= params.min_visible * o.area0]
    return out


def generate(
    objects_dir: Path,
    backgrounds_dir: Path,
    out_dir: Path,
    n: int,
    seed: int = 0,
    params: MixParams | None = None,
    save_masks: bool = False,
) -> dict[str, object]:
    """Write ``n`` images to ``out_dir/images``, YOLO labels to ``out_dir/labels``,
    ``annotations.csv`` and ``data.yaml``; with ``save_masks`` also each object's visible
    mask (``out_dir/masks/<image>_<k>.png``)."""
    p = params or MixParams()
    classes, cutouts = load_objects(objects_dir)
    backgrounds = load_backgrounds(backgrounds_dir, p.max_side)
    for sub in ("images", "labels") + (("masks",) if save_masks else ()):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    counts = dict.fromkeys(classes, 0)
    negatives = 0
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        bg = backgrounds[int(rng.integers(len(backgrounds)))]
        mixed = mix_one(bg, cutouts, p, rng)
        name = f"mix_{seed}_{i:06d}"
        cv2.imwrite(str(out_dir / "images" / f"{name}.jpg"), mixed.image,
                    [cv2.IMWRITE_JPEG_QUALITY, 92])  # fmt: skip
        ids, boxes = mixed.boxes()
        write_yolo_labels(out_dir / "labels" / f"{name}.txt", ids, boxes)
        h, w = mixed.image.shape[:2]
        for k, (c, b) in enumerate(zip(ids, boxes, strict=True)):
            counts[classes[int(c)]] += 1
            px = b * np.asarray([w, h, w, h])
            rows.append([f"images/{name}.jpg", classes[int(c)], *(f"{v:g}" for v in px)])
            if save_masks:
                m = (mixed.objects[k].mask * 255).astype(np.uint8)
                cv2.imwrite(str(out_dir / "masks" / f"{name}_{k}.png"), m)
        negatives += len(ids) == 0
    with (out_dir / "annotations.csv").open("w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(CSV_HEADER)
        wr.writerows(rows)
    from models.suspect.dataset import write_data_yaml

    write_data_yaml(out_dir, classes)
    return {"images": n, "classes": classes, "boxes": counts, "negatives": negatives}


def extract_cutouts(
    images: Sequence[tuple[Path, npt.NDArray[np.int64], npt.NDArray[np.float32]]],
    classes: Sequence[str],
    out_dir: Path,
    min_side: int = 24,
    per_class: int | None = None,
) -> dict[str, int]:
    """GrabCut every box (normalised xyxy) of the given images into ``out_dir/<class>/*.png``."""
    counts = dict.fromkeys(classes, 0)
    for path, ids, boxes in images:
        if per_class is not None and all(counts[classes[int(c)]] >= per_class for c in ids):
            continue
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(path, "cannot read image")
        h, w = img.shape[:2]
        for k, (c, b) in enumerate(zip(ids, boxes, strict=True)):
            name = classes[int(c)]
            if per_class is not None and counts[name] >= per_class:
                continue
            px = b * np.asarray([w, h, w, h])
            if min(px[2] - px[0], px[3] - px[1]) < min_side:
                continue
            dest = out_dir / name / f"{path.stem}_{k}.png"
            if not dest.exists():  # resumable: GrabCut is the slow part
                dest.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(dest), grabcut_cutout(img, px))
            counts[name] += 1
    return counts
