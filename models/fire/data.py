"""Fire/smoke dataset: YOLO labels -> multi-label targets, clip-aware de-duplication and splits.

The Roboflow export ``fire-wrpgm`` v8 holds consecutive frames of the same video clips, and every
clip that appears in ``valid/`` also appears in ``train/``. A validation number is only honest when
no frame of a test clip was trained on, so the split works on *groups*:

* a group is the source clip read from the file name (``fire2_mp4-33_jpg.rf.<hash>.jpg`` ->
  ``fire2_mp4``); stills (``img_123_jpg``) are grouped in blocks of consecutive numbers because
  neighbouring numbers are often the same scene; drone images are grouped by capture session
  (``image_7_20250902_134616`` -> ``drone_20250902_13``);
* groups holding near-identical images (difference hash within ``DUP_BITS`` bits) are merged, so
  a re-exported frame under another name cannot straddle two splits;
* every ``train/`` group that shares a clip or a near-duplicate with ``valid/`` is dropped from
  training (``valid/`` stays a clean test set);
* the remaining groups are split into fit / early-stopping validation by a seeded shuffle;
* drone images are hard negatives (sky, forest, clouds): alternate capture sessions go to training
  and to a held-out false-alarm set that is never trained on.

No torch here: evaluation and the node's tests use this module without the train extra.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

CLASSES: tuple[str, str] = ("fire", "smoke")
YOLO_FIRE, YOLO_DEFAULT, YOLO_SMOKE = 0, 1, 2
STILL_BLOCK = 50  # stills img_N: numbers in the same block of 50 share a group
HASH_SIDE = 16  # difference hash of 16x16 gradients = 256 bits
# Hash distance (of 256 bits) at or under which two images are near-duplicates. Chosen by looking
# at pairs: up to ~20 they are re-exports or neighbouring frames of one clip; a 64-bit hash at
# 2 bits also paired unrelated washed-out smoke frames (38-61 bits apart here).
DUP_BITS = 16
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")

_RF_SUFFIX = re.compile(r"\.rf\.[0-9a-f]+$")
_CLIP_FRAME = re.compile(r"^(?P<clip>.+_mp4)-\d+_jpg$")
_STILL = re.compile(r"^img_(?P<num>\d+)(--\d+-)?_jpg$")
_DRONE = re.compile(r"^image_\d+_(?P<date>\d{8})_(?P<hh>\d{2})\d{4}_jpg$")
# Weapons-set images (CC BY 4.0; street, indoor and people scenes) whose name says they may show
# smoke, fire or muzzle flash: not safe as "no fire, no smoke" negatives, dropped by name.
_WEAPON_UNSAFE = re.compile(
    r"smoke|fire|fight|flash|explo|shoot|muzzle|battle|combat|fullauto", re.I
)
WEAPON_HELDOUT_FRACTION = 0.2  # weapons groups kept out of training: false alarms only


@dataclass(frozen=True)
class Sample:
    """One image with its image-level targets and boxes (xyxy, normalised 0-1)."""

    path: Path
    fire: bool
    smoke: bool
    group: str
    source: str  # "fire_smoke/train", "fire_smoke/valid", "drones", "folder"
    fire_boxes: tuple[tuple[float, float, float, float], ...] = ()
    smoke_boxes: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def target(self) -> npt.NDArray[np.float32]:
        return np.array([self.fire, self.smoke], dtype=np.float32)

    @property
    def kind(self) -> str:
        """``fire``, ``smoke``, ``both`` or ``none``: the stratum used for class balancing."""
        if self.fire and self.smoke:
            return "both"
        return "fire" if self.fire else "smoke" if self.smoke else "none"


@dataclass
class Split:
    fit: list[Sample]
    val: list[Sample]  # early stopping and threshold choice only
    test: list[Sample]  # fire_smoke/valid: reported, never used for decisions
    heldout_negatives: list[Sample]  # drone sessions kept out of training: false alarms
    heldout_weapons: list[Sample] = field(default_factory=list)  # weapons groups never trained
    report: dict[str, object] = field(default_factory=dict)


def stem_of(path: Path) -> str:
    """File name without extension and without Roboflow's ``.rf.<hash>`` suffix."""
    return _RF_SUFFIX.sub("", path.stem)


def group_of(path: Path) -> str:
    """The source clip / still block / drone session an image comes from."""
    stem = stem_of(path)
    if m := _CLIP_FRAME.match(stem):
        return m["clip"]
    if m := _STILL.match(stem):
        return f"img_block{int(m['num']) // STILL_BLOCK}"
    if m := _DRONE.match(stem):
        return f"drone_{m['date']}_{m['hh']}"
    return stem


def parse_yolo(label_path: Path) -> tuple[list[int], list[tuple[float, float, float, float]]]:
    """Class ids and normalised xyxy boxes of a YOLO label file; a polygon becomes its hull box."""
    ids: list[int] = []
    boxes: list[tuple[float, float, float, float]] = []
    if not label_path.exists():
        return ids, boxes
    for n, line in enumerate(label_path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5 or len(parts) % 2 == 0:
            raise ValueError(f"{label_path}:{n}: expected 'cls cx cy w h' or a polygon: {line!r}")
        vals = [float(v) for v in parts[1:]]
        if len(vals) == 4:
            cx, cy, w, h = vals
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        else:
            xs, ys = vals[0::2], vals[1::2]
            box = (min(xs), min(ys), max(xs), max(ys))
        ids.append(int(parts[0]))
        x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in box)
        boxes.append((x1, y1, x2, y2))
    return ids, boxes


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_yolo_split(split_dir: Path, source: str) -> list[Sample]:
    """Read ``<split_dir>/images`` + ``labels``: Fire -> fire, smoke -> smoke, default -> none."""
    images = split_dir / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"{images} is not a directory (expected a YOLO split)")
    out = []
    for img in list_images(images):
        ids, boxes = parse_yolo(split_dir / "labels" / f"{img.stem}.txt")
        fire = tuple(b for i, b in zip(ids, boxes, strict=True) if i == YOLO_FIRE)
        smoke = tuple(b for i, b in zip(ids, boxes, strict=True) if i == YOLO_SMOKE)
        out.append(
            Sample(img, bool(fire), bool(smoke), group_of(img), source, fire, smoke)
        )
    return out


def load_negative_folder(folder: Path, source: str = "folder") -> list[Sample]:
    """A plain folder of images that contain no fire and no smoke."""
    return [Sample(p, False, False, group_of(p), source) for p in list_images(folder)]


def weapon_group(path: Path) -> str:
    """Numbered frames of one source (``knife-12``, ``clip_mp4-3``) share a group."""
    base = re.sub(r"_(jpg|jpeg|png)$", "", stem_of(path), flags=re.I)
    base = re.sub(r"-opencv\d.*$", "", base)  # frames grabbed from one video by timestamp
    return "weapons_" + (re.sub(r"[-_ ]*\(?\d+\)?[-_ ]*$", "", base) or base)


def load_weapon_negatives(images: Path) -> tuple[list[Sample], list[str]]:
    """Weapons-set images as negatives (source ``weapons``), minus names that may show smoke or
    fire; returns the kept samples and the dropped file names."""
    kept, dropped = [], []
    for p in list_images(images):
        if _WEAPON_UNSAFE.search(p.name):
            dropped.append(p.name)
        else:
            kept.append(Sample(p, False, False, weapon_group(p), "weapons"))
    return kept, dropped


def split_weapon_groups(
    samples: Sequence[Sample], seed: int, heldout_fraction: float = WEAPON_HELDOUT_FRACTION
) -> tuple[list[Sample], list[Sample]]:
    """Seeded split by group: (trainable, held out for false-alarm counting)."""
    groups = sorted({s.group for s in samples})
    random.Random(seed + 7919).shuffle(groups)
    held = set(groups[: round(heldout_fraction * len(groups))])
    return [s for s in samples if s.group not in held], [s for s in samples if s.group in held]


def dhash(image_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """256-bit difference hash (16x16 horizontal gradients): robust to re-encoding and resizing."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (HASH_SIDE + 1, HASH_SIDE), interpolation=cv2.INTER_AREA)
    small = small.astype(np.int16)
    return np.asarray((small[:, 1:] > small[:, :-1]).flatten(), dtype=np.bool_)


def hashes(samples: Sequence[Sample]) -> npt.NDArray[np.bool_]:
    out = np.zeros((len(samples), HASH_SIDE * HASH_SIDE), dtype=np.bool_)
    for k, s in enumerate(samples):
        img = cv2.imread(str(s.path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot decode image {s.path}")
        out[k] = dhash(np.asarray(img, dtype=np.uint8))
    return out


def near_duplicate_pairs(
    ha: npt.NDArray[np.bool_], hb: npt.NDArray[np.bool_], bits: int = DUP_BITS
) -> list[tuple[int, int]]:
    """Index pairs (i, j) whose hashes differ in at most ``bits`` bits."""
    a = ha.astype(np.int32)
    b = hb.astype(np.int32)
    dist = a @ (1 - b).T + (1 - a) @ b.T
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(dist <= bits), strict=True)]


def merge_duplicate_groups(
    samples: list[Sample], hs: npt.NDArray[np.bool_]
) -> tuple[list[Sample], int]:
    """Union groups that hold near-identical images; returns the relabelled samples, merges made."""
    parent: dict[str, str] = {s.group: s.group for s in samples}

    def find(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    merges = 0
    for i, j in near_duplicate_pairs(hs, hs):
        gi, gj = find(samples[i].group), find(samples[j].group)
        if i < j and gi != gj:
            parent[max(gi, gj)] = min(gi, gj)
            merges += 1
    relabelled = [
        Sample(s.path, s.fire, s.smoke, find(s.group), s.source, s.fire_boxes, s.smoke_boxes)
        for s in samples
    ]
    return relabelled, merges


def _counts(samples: Iterable[Sample]) -> dict[str, int]:
    c = Counter(s.kind for s in samples)
    return {k: c.get(k, 0) for k in ("fire", "smoke", "both", "none")}


def drone_sessions(samples: Sequence[Sample]) -> tuple[list[str], list[str]]:
    """Sorted capture sessions alternate: even positions train, odd positions are held out."""
    sessions = sorted({s.group for s in samples})
    return sessions[0::2], sessions[1::2]


def make_split(
    fire_root: Path,
    drones_images: Path | None,
    *,
    seed: int,
    val_fraction: float = 0.2,
    max_images: int | None = None,
    disjoint_from_test: bool = True,
    weapons_images: Path | None = None,
    refit: bool = False,
    refit_drones: bool = False,
) -> Split:
    """Build the fit / val / test / held-out split described in the module docstring;
    ``weapons_images`` adds street/indoor/people negatives (groups split fit/val/held-out).

    ``refit``: the fire_smoke images of the val groups join fit, so every ``train/`` image is
    trained on; val keeps only its scene negatives (drone sessions, weapons groups), which still
    bound the thresholds' false-alarm rate. The epoch count then comes from an earlier run with
    the full val split (early stopping needs positives). ``refit_drones`` also fits the val
    drone sessions (hard sky/haze negatives); val then bounds the thresholds with the weapons
    groups alone, and haze false alarms are measured on the held-out sessions only."""
    train = load_yolo_split(fire_root / "train", "fire_smoke/train")
    test = load_yolo_split(fire_root / "valid", "fire_smoke/valid")
    drones = load_negative_folder(drones_images, "drones") if drones_images else []
    drone_train_sessions, drone_heldout_sessions = drone_sessions(drones)
    drones_fit = [s for s in drones if s.group in drone_train_sessions]
    heldout = [s for s in drones if s.group in drone_heldout_sessions]

    # Drones come from another dataset: they cannot leak into valid/, and their flat sky frames
    # collide under dHash with unrelated images, so only the fire_smoke images are merged.
    train_hashes = hashes(train)
    test_hashes = hashes(test)
    test_clips = {s.group for s in test}
    shares_clip = [s.group in test_clips for s in train]
    train, merges = merge_duplicate_groups(train, train_hashes)
    dup_with_test = {train[i].group for i, _ in near_duplicate_pairs(train_hashes, test_hashes)}
    dropped_groups: set[str] = set()
    if disjoint_from_test:
        dropped_groups = {s.group for s, hit in zip(train, shares_clip, strict=True) if hit}
        dropped_groups |= dup_with_test
    weapons, weapons_dropped = (
        load_weapon_negatives(weapons_images) if weapons_images else ([], [])
    )
    weapons_fit, weapons_heldout = split_weapon_groups(weapons, seed)
    pool = train + drones_fit + weapons_fit
    kept = [s for s in pool if s.group not in dropped_groups]

    val_groups = _pick_val_groups(kept, val_fraction, random.Random(seed))
    fit = [s for s in kept if s.group not in val_groups]
    val = [s for s in kept if s.group in val_groups]
    refit_moved = 0
    if refit_drones and not refit:
        raise ValueError("refit_drones extends refit: pass both (--refit --refit-drones)")
    if refit:
        sources = {"fire_smoke/train", "drones"} if refit_drones else {"fire_smoke/train"}
        moved = [s for s in val if s.source in sources]
        refit_moved = len(moved)
        fit += moved
        val = [s for s in val if s.source not in sources]
        if not val:  # nothing left to bound the thresholds' false alarms
            raise ValueError(
                "refit leaves no scene negatives in val: pass --weapons (and --negatives "
                "unless --refit-drones)"
            )
    if max_images is not None:  # smoke runs: a handful of images, still stratified
        fit = _take_stratified(fit, max_images, seed)
        val = _take_stratified(val, max(2, max_images // 2), seed)

    report: dict[str, object] = {
        "seed": seed,
        "disjoint_from_test": disjoint_from_test,
        "refit": refit,
        "refit_drones": refit_drones,
        "refit_moved_to_fit": refit_moved,
        "rule": (
            "group = source clip (video frames), block of "
            f"{STILL_BLOCK} consecutive numbers (stills), capture hour (drones); groups with "
            f"near-duplicates (dHash <= {DUP_BITS} bits) merged; train groups sharing a clip or a "
            "near-duplicate with valid/ dropped (when disjoint_from_test); remaining groups "
            "split fit/val by seeded shuffle"
        ),
        "train_images": len(train),
        "test_images_valid": len(test),
        "test_clips": sorted(test_clips),
        "dropped_groups": sorted(dropped_groups),
        "dropped_images": len(pool) - len(kept),
        "near_duplicate_group_merges": merges,
        "test_images_with_near_duplicate_in_fit_or_val": _dups_left(fit + val, test, test_hashes),
        "drone_sessions_train": drone_train_sessions,
        "drone_sessions_heldout": drone_heldout_sessions,
        "fit": _counts(fit),
        "val": _counts(val),
        "test": _counts(test),
        "heldout_negatives": len(heldout),
        "weapons_negatives_trainable": len(weapons_fit),
        "weapons_heldout": len(weapons_heldout),
        "weapons_dropped_by_name": weapons_dropped,
        "fit_groups": sorted({s.group for s in fit}),
        "val_groups": sorted({s.group for s in val}),
    }
    return Split(fit, val, test, heldout, heldout_weapons=weapons_heldout, report=report)


def _pick_val_groups(kept: list[Sample], fraction: float, rng: random.Random) -> set[str]:
    """Whole groups for validation, about ``fraction`` of the images of each source.

    fire_smoke groups and drone sessions are drawn separately so both kinds reach validation;
    groups that would overshoot the target by half are skipped (merged clip groups can hold half
    of the dataset).
    """
    val: set[str] = set()
    for source in ("fire_smoke/train", "drones", "weapons"):
        sizes = Counter(s.group for s in kept if s.source == source)
        groups = sorted(sizes)
        rng.shuffle(groups)
        target = fraction * sum(sizes.values())
        taken = 0
        for g in groups:
            if taken >= target:
                break
            if taken + sizes[g] <= 1.5 * target:
                val.add(g)
                taken += sizes[g]
    return val


def _dups_left(
    kept: Sequence[Sample], test: Sequence[Sample], test_hashes: npt.NDArray[np.bool_]
) -> int:
    kept_hashes = hashes(kept)
    return len({j for _, j in near_duplicate_pairs(kept_hashes, test_hashes)})


def _take_stratified(samples: list[Sample], n: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    by_kind: dict[str, list[Sample]] = {}
    for s in samples:
        by_kind.setdefault(s.kind, []).append(s)
    out: list[Sample] = []
    while len(out) < n and any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(out) < n:
                out.append(by_kind[kind].pop(rng.randrange(len(by_kind[kind]))))
    return out


def write_report(split: Split, path: Path) -> None:
    path.write_text(json.dumps(split.report, indent=2) + "\n")


def samples_to_json(samples: Sequence[Sample]) -> list[dict[str, object]]:
    return [{**asdict(s), "path": str(s.path)} for s in samples]


def load_cached(path: Path, size: int) -> npt.NDArray[np.uint8]:
    """Decode a BGR image and squash it to ``size`` x ``size`` (what the node's pre-processing does
    to whole frames, so crops of this cache see the same aspect distortion)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot decode image {path}")
    return np.asarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), dtype=np.uint8)
