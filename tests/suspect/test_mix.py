"""The generator: 50 images from two synthetic RGBA objects and two backgrounds; every label box
matches the pasted object's visible alpha mask (IoU >= 0.9), the mask really holds the object's
pixels, and the same seed gives the same files."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.suspect.dataset import DatasetError, read_csv, read_yolo
from models.suspect.mix import MixParams, generate, grabcut_cutout, load_objects

RED, GREEN = (0, 0, 255), (0, 255, 0)


def _objects(root: Path) -> Path:
    """Two classes: a red L-shaped 'gun' and a green ellipse 'drone', transparent around."""
    gun = np.zeros((60, 140, 4), np.uint8)
    cv2.rectangle(gun, (10, 10), (130, 30), (*RED, 255), -1)
    cv2.rectangle(gun, (20, 30), (45, 55), (*RED, 255), -1)
    drone = np.zeros((80, 80, 4), np.uint8)
    cv2.ellipse(drone, (40, 40), (35, 18), 0, 0, 360, (*GREEN, 255), -1)
    for name, img in (("gun", gun), ("drone", drone)):
        (root / "objects" / name).mkdir(parents=True)
        cv2.imwrite(str(root / "objects" / name / f"{name}.png"), img)
    return root / "objects"


def _backgrounds(root: Path) -> Path:
    bg = root / "backgrounds"
    bg.mkdir()
    cv2.imwrite(str(bg / "grey.png"), np.full((240, 320, 3), 90, np.uint8))
    cv2.imwrite(str(bg / "blue.png"), np.full((300, 400, 3), (160, 60, 20), np.uint8))
    return bg


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


PARAMS = MixParams(max_objects=3, color_match=0.0, occluder_p=0.3, max_rotation_deg=25)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_fifty_images_boxes_match_alpha_masks(tmp_path: Path) -> None:
    objs, bgs = _objects(tmp_path), _backgrounds(tmp_path)
    out = tmp_path / "out"
    report = generate(objs, bgs, out, n=50, seed=7, params=PARAMS, save_masks=True)
    assert report["images"] == 50
    ds = read_yolo(out, ["drone", "gun"])  # sorted class folders
    assert len(ds.items) == 50
    n_boxes = 0
    for item in ds.items:
        img = cv2.imread(str(item.image))
        h, w = img.shape[:2]
        for k, (cid, box) in enumerate(zip(item.class_ids, item.boxes, strict=True)):
            mask = cv2.imread(str(out / "masks" / f"{item.image.stem}_{k}.png"), 0) > 127
            ys, xs = np.nonzero(mask)
            mask_box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)
            label_box = box.astype(np.float64) * [w, h, w, h]
            assert _iou(label_box, mask_box) >= 0.9, (item.image.name, k)
            # the mask is where the object's colour really is (colour match is off here)
            colour = np.array(GREEN if cid == 0 else RED, np.float64)
            inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            if inner.sum() > 20:
                err = np.abs(img[inner].astype(np.float64) - colour).mean()
                assert err < 40, (item.image.name, k, err)
            n_boxes += 1
    assert n_boxes >= 50  # 1-3 objects per image, a few dropped when mostly covered
    assert set(report["boxes"]) == {"drone", "gun"}  # type: ignore[arg-type]
    assert all(v > 0 for v in report["boxes"].values())  # type: ignore[attr-defined]
    # the CSV says the same as the YOLO labels
    csv_ds = read_csv(out / "annotations.csv")
    with (out / "annotations.csv").open() as f:
        assert sum(1 for _ in csv.reader(f)) - 1 == n_boxes
    assert sum(len(i.class_ids) for i in csv_ds.items) == n_boxes


def test_same_seed_same_files_other_seed_differs(tmp_path: Path) -> None:
    objs, bgs = _objects(tmp_path), _backgrounds(tmp_path)
    generate(objs, bgs, tmp_path / "a", n=8, seed=3, params=PARAMS)
    generate(objs, bgs, tmp_path / "b", n=8, seed=3, params=PARAMS)
    generate(objs, bgs, tmp_path / "c", n=8, seed=4, params=PARAMS)
    assert _digest(tmp_path / "a" / "labels") == _digest(tmp_path / "b" / "labels")
    assert _digest(tmp_path / "a" / "images") == _digest(tmp_path / "b" / "images")
    assert _digest(tmp_path / "a" / "labels") != _digest(tmp_path / "c" / "labels")


def test_empty_class_folder_names_the_folder(tmp_path: Path) -> None:
    objs = _objects(tmp_path)
    (objs / "knife").mkdir()
    with pytest.raises(DatasetError, match=r"knife.*empty class folder") as err:
        load_objects(objs)
    assert err.value.path == objs / "knife"


def test_object_without_alpha_is_refused(tmp_path: Path) -> None:
    objs = _objects(tmp_path)
    cv2.imwrite(str(objs / "gun" / "flat.png"), np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(DatasetError, match=r"flat\.png.*no alpha"):
        load_objects(objs)


def test_negatives_have_empty_labels(tmp_path: Path) -> None:
    objs, bgs = _objects(tmp_path), _backgrounds(tmp_path)
    report = generate(objs, bgs, tmp_path / "o", n=10, seed=1, params=MixParams(negative_p=1.0))
    assert report["negatives"] == 10
    assert all(p.read_text() == "" for p in (tmp_path / "o" / "labels").iterdir())


def test_grabcut_cuts_a_disc_out_of_a_boxed_image() -> None:
    img = np.full((120, 160, 3), (30, 160, 30), np.uint8)
    noise = np.random.default_rng(0).integers(0, 25, img.shape, dtype=np.uint8)
    img = cv2.add(img, noise)
    cv2.circle(img, (80, 60), 30, (20, 20, 220), -1)
    cut = grabcut_cutout(img, (40, 20, 120, 100))
    alpha = cut[..., 3] > 127
    disc = np.pi * 30**2
    assert 0.8 * disc < alpha.sum() < 1.25 * disc  # the disc, not the whole 80x80 box
    assert abs(cut.shape[0] - 61) <= 4 and abs(cut.shape[1] - 61) <= 4
