"""Detection datasets: YOLO-format and ``annotations.csv`` read/write, validation, merge, split.

Numpy/OpenCV only (no torch), so ``citywatch-train data`` runs without the train extra.

* YOLO: ``images/<stem>.<ext>`` + ``labels/<stem>.txt``, one ``class cx cy w h`` line per box
  (normalised 0-1). Roboflow exports also hold polygon lines ``class x1 y1 x2 y2 ...``: they are
  converted to their bounding box (and counted).
* CSV (the seed's format): header ``image,label,x1,y1,x2,y2``, one row per box, pixels, the label
  is a class *name*.
* Every error is a :class:`DatasetError` naming the offending file (and line).
* Splits are by *group* (the source clip / capture session read from the file name) so that
  near-identical neighbouring frames never straddle training and test.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
EDGE_TOL = 0.01  # normalised coordinates this far outside [0, 1] are rounding, not errors
CSV_HEADER = ("image", "label", "x1", "y1", "x2", "y2")
FRAME_BLOCK = 100  # numbered frames/stills within one block of 100 share a group


class DatasetError(ValueError):
    """Bad dataset input; ``path`` is the file at fault."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)


@dataclass
class LabeledImage:
    """One image and its boxes: class ids (N,) and xyxy boxes normalised to 0-1 (N, 4)."""

    image: Path
    class_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    boxes: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    group: str = ""

    def __post_init__(self) -> None:
        if self.boxes.shape != (len(self.class_ids), 4):
            n = len(self.class_ids)
            raise ValueError(f"{self.image}: boxes {self.boxes.shape} for {n} class ids")


@dataclass
class Dataset:
    classes: list[str]
    items: list[LabeledImage]
    polygons_converted: int = 0

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.classes, 0)
        for it in self.items:
            for c in it.class_ids:
                out[self.classes[int(c)]] += 1
        return out


# --- YOLO -----------------------------------------------------------------------------------


def parse_yolo_line(
    line: str, num_classes: int, where: str
) -> tuple[int, tuple[float, float, float, float], bool]:
    """(class id, normalised xyxy, was_polygon) of one label line; raises naming ``where``."""
    parts = line.split()
    try:
        cid_f = float(parts[0])
        vals = [float(v) for v in parts[1:]]
    except ValueError:
        raise DatasetError(where, f"not numbers: {line.strip()!r}") from None
    cid = int(cid_f)
    if cid != cid_f or not 0 <= cid < num_classes:
        raise DatasetError(where, f"unknown class id {parts[0]} (dataset has {num_classes})")
    polygon = len(vals) != 4
    if polygon:
        if len(vals) < 6 or len(vals) % 2:
            raise DatasetError(where, f"expected 4 box values or x y pairs, got {len(vals)}")
        xs, ys = np.asarray(vals[0::2]), np.asarray(vals[1::2])
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
    else:
        cx, cy, w, h = vals
        if w <= 0 or h <= 0:
            raise DatasetError(where, f"box has no area (w={w}, h={h})")
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if min(box) < -EDGE_TOL or max(box) > 1 + EDGE_TOL:
        raise DatasetError(where, f"box outside the image: xyxy {tuple(round(v, 4) for v in box)}")
    clipped = tuple(float(np.clip(v, 0.0, 1.0)) for v in box)
    return cid, (clipped[0], clipped[1], clipped[2], clipped[3]), polygon


def read_yolo_labels(
    path: Path, num_classes: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], int]:
    ids, boxes, polys = [], [], 0
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        cid, box, poly = parse_yolo_line(line, num_classes, f"{path}:{n}")
        ids.append(cid)
        boxes.append(box)
        polys += poly
    return (
        np.asarray(ids, np.int64),
        np.asarray(boxes, np.float32).reshape(-1, 4),
        polys,
    )


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(folder, "no such folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_yolo(root: Path, classes: Sequence[str], *, allow_missing_labels: bool = False) -> Dataset:
    """``root/images`` + ``root/labels``. A missing label file is an error unless allowed
    (then the image is a negative: no boxes)."""
    images = list_images(root / "images")
    if not images:
        raise DatasetError(root / "images", "no images")
    items, polys = [], 0
    for img in images:
        lbl = root / "labels" / f"{img.stem}.txt"
        if not lbl.is_file():
            if not allow_missing_labels:
                raise DatasetError(lbl, f"missing label file for image {img.name}")
            items.append(LabeledImage(img, group=group_of(img)))
            continue
        ids, boxes, p = read_yolo_labels(lbl, len(classes))
        polys += p
        items.append(LabeledImage(img, ids, boxes, group_of(img)))
    return Dataset(list(classes), items, polys)


def write_yolo_labels(path: Path, class_ids: Iterable[int], boxes: npt.NDArray[np.float32]) -> None:
    lines = []
    for c, (x1, y1, x2, y2) in zip(class_ids, boxes, strict=True):
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        lines.append(f"{int(c)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + ("\n" if lines else ""), "utf-8")


def write_data_yaml(root: Path, classes: Sequence[str]) -> None:
    names = ", ".join(f"'{c}'" for c in classes)
    root.joinpath("data.yaml").write_text(
        f"train: images\nval: images\nnc: {len(classes)}\nnames: [{names}]\n", "utf-8"
    )


# --- CSV --------------------------------------------------------------------------------------


def image_size(path: Path) -> tuple[int, int]:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(path, "cannot read image")
    return int(img.shape[0]), int(img.shape[1])


def read_csv(path: Path, images_root: Path | None = None) -> Dataset:
    """The seed's ``annotations.csv``; classes are the labels in order of first appearance."""
    root = images_root or path.parent
    classes: list[str] = []
    per_image: dict[str, list[tuple[int, tuple[float, ...]]]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or tuple(reader.fieldnames[:6]) != CSV_HEADER:
            raise DatasetError(path, f"header must be {','.join(CSV_HEADER)}")
        for n, row in enumerate(reader, 2):
            where = f"{path}:{n}"
            name = row["image"]
            if name not in sizes:
                img = root / name
                if not img.is_file():
                    raise DatasetError(where, f"image {img} not found")
                sizes[name] = image_size(img)
            h, w = sizes[name]
            try:
                x1, y1, x2, y2 = (float(row[k]) for k in CSV_HEADER[2:])
            except (TypeError, ValueError):
                raise DatasetError(where, "coordinates must be numbers") from None
            if x2 <= x1 or y2 <= y1:
                raise DatasetError(where, f"box has no area: {x1},{y1},{x2},{y2}")
            tol = EDGE_TOL * max(h, w)
            if x1 < -tol or y1 < -tol or x2 > w + tol or y2 > h + tol:
                raise DatasetError(where, f"box outside the image ({w}x{h}): {x1},{y1},{x2},{y2}")
            if row["label"] not in classes:
                classes.append(row["label"])
            box = (max(x1, 0) / w, max(y1, 0) / h, min(x2, w) / w, min(y2, h) / h)
            per_image.setdefault(name, []).append((classes.index(row["label"]), box))
    items = []
    for name, rows in per_image.items():
        ids = np.asarray([r[0] for r in rows], np.int64)
        boxes = np.asarray([r[1] for r in rows], np.float32)
        items.append(LabeledImage(root / name, ids, boxes, group_of(Path(name))))
    return Dataset(classes, items)


def csv_rows(
    ds: Dataset, relative_to: Path, sizes: Mapping[Path, tuple[int, int]] | None = None
) -> list[list[str]]:
    rows = []
    for it in ds.items:
        h, w = (sizes or {}).get(it.image) or image_size(it.image)
        for c, b in zip(it.class_ids, it.boxes, strict=True):
            px = (b * np.asarray([w, h, w, h], np.float32)).round(1)
            rel = it.image.relative_to(relative_to) if it.image.is_absolute() else it.image
            rows.append([str(rel), ds.classes[int(c)], *(f"{v:g}" for v in px)])
    return rows


def write_csv(path: Path, ds: Dataset, sizes: Mapping[Path, tuple[int, int]] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(CSV_HEADER)
        wr.writerows(csv_rows(ds, path.parent.resolve(), sizes))


# --- merge and split --------------------------------------------------------------------------


def remap(ds: Dataset, class_map: Mapping[str, str | None], classes: Sequence[str]) -> Dataset:
    """Rename ``ds``'s classes through ``class_map`` into ``classes``; None drops the class.
    A class missing from the map is an error (silently dropping boxes would poison training)."""
    missing = [c for c in ds.classes if c not in class_map]
    if missing:
        raise ValueError(f"class map has no entry for {missing} (map a class to None to drop it)")
    lut = np.asarray(
        [classes.index(m) if (m := class_map[c]) is not None else -1 for c in ds.classes], np.int64
    )
    items = []
    for it in ds.items:
        new = lut[it.class_ids] if len(it.class_ids) else it.class_ids
        keep = new >= 0
        items.append(LabeledImage(it.image, new[keep], it.boxes[keep], it.group))
    return Dataset(list(classes), items, ds.polygons_converted)


def merge(parts: Sequence[Dataset]) -> Dataset:
    if not parts:
        raise ValueError("nothing to merge")
    classes = parts[0].classes
    for p in parts[1:]:
        if p.classes != classes:
            raise ValueError(f"class lists differ: {classes} vs {p.classes}; remap() first")
    return Dataset(
        list(classes),
        [it for p in parts for it in p.items],
        sum(p.polygons_converted for p in parts),
    )


_RF = re.compile(r"_(jpg|jpeg|png)\.rf\.[0-9a-f]+$", re.IGNORECASE)
_DRONE = re.compile(r"^image_\d+_(?P<date>\d{8})_(?P<hh>\d{2})\d{4}$")
_VIDEO = re.compile(r"^(?P<clip>.+?)(_mp4|-opencv\d*)")
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<num>\d+)\D*$")


def group_of(path: Path) -> str:
    """Source clip / capture session / block of numbered stills that an image comes from.

    ``image_7_20250902_134616`` (drones) -> ``drone_20250902_13``; ``clip_mp4-12`` and
    ``20220325_005407-opencv0-00-12-01`` -> the clip; ``knife_984``/``armas--2024-`` -> the
    prefix and the block of ``FRAME_BLOCK`` numbers (neighbouring numbers are often the same
    scene); anything else is its own group. Roboflow's ``_jpg.rf.<hash>`` suffix is ignored, so
    its augmented copies of one source image share a group.
    """
    stem = _RF.sub("", path.stem)
    if m := _DRONE.match(stem):
        return f"drone_{m['date']}_{m['hh']}"
    if m := _VIDEO.match(stem):
        return f"clip_{m['clip']}"
    if m := _NUMBERED.match(stem):
        return f"{m['prefix']}#{int(m['num']) // FRAME_BLOCK}"
    return stem


def split_groups(
    items: Sequence[LabeledImage], fractions: Mapping[str, float], seed: int
) -> dict[str, list[LabeledImage]]:
    """Seeded split by group: each split gets about its fraction of the images, whole groups."""
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {dict(fractions)}")
    groups: dict[str, list[LabeledImage]] = {}
    for it in items:
        groups.setdefault(it.group or it.image.stem, []).append(it)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    out: dict[str, list[LabeledImage]] = {name: [] for name in fractions}
    total = len(items)
    names = list(fractions)
    for key in keys:
        # fill the split furthest below its target share: whole groups, stable for a seed
        name = min(names, key=lambda n: len(out[n]) / total - fractions[n])
        out[name].extend(groups[key])
    return out
