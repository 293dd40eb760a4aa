"""Dataset reading and the clip-aware split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.fire.data import (
    Sample,
    dhash,
    drone_sessions,
    group_of,
    load_negative_folder,
    make_split,
    near_duplicate_pairs,
    parse_yolo,
)
from tests.conftest import SharedData


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("fire2_mp4-33_jpg.rf.43a6bf58d94db700be8b8eb5a36bb30c.jpg", "fire2_mp4"),
        ("pexels-alan-w-8365989_mp4-15_jpg.rf.a0339be6.jpg", "pexels-alan-w-8365989_mp4"),
        ("img_1018_jpg.rf.abc123.jpg", "img_block20"),
        ("img_52--2-_jpg.rf.abc123.jpg", "img_block1"),
        ("image_110_20250902_134656_jpg.rf.dbb6b6bac6.jpg", "drone_20250902_13"),
        ("something_else.png", "something_else"),
    ],
)
def test_group_of(name: str, group: str) -> None:
    assert group_of(Path(name)) == group


def test_parse_yolo_boxes_and_polygons(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("0 0.5 0.5 0.2 0.4\n\n2 0.1 0.1 0.3 0.1 0.2 0.5\n")
    ids, boxes = parse_yolo(f)
    assert ids == [0, 2]
    np.testing.assert_allclose(boxes[0], (0.4, 0.3, 0.6, 0.7))
    np.testing.assert_allclose(boxes[1], (0.1, 0.1, 0.3, 0.5))
    assert parse_yolo(tmp_path / "missing.txt") == ([], [])
    f.write_text("0 0.5 0.5\n")
    with pytest.raises(ValueError, match=r"a\.txt:1"):
        parse_yolo(f)


def test_dhash_pairs_reencoded_copies_but_not_different_scenes() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    b = np.clip(a.astype(np.int16) + 3, 0, 255).astype(np.uint8)  # brighter copy
    c = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    h = np.stack([dhash(a), dhash(b), dhash(c)])
    pairs = {(i, j) for i, j in near_duplicate_pairs(h, h) if i < j}
    assert pairs == {(0, 1)}


def test_drone_sessions_alternate(tmp_path: Path) -> None:
    for name in ("image_1_20250901_230000_jpg.jpg", "image_2_20250902_001000_jpg.jpg",
                 "image_3_20250902_011000_jpg.jpg"):
        (tmp_path / name).write_bytes(b"")
    train, held = drone_sessions(load_negative_folder(tmp_path))
    assert train == ["drone_20250901_23", "drone_20250902_01"]
    assert held == ["drone_20250902_00"]


@pytest.mark.shared_data
def test_clip_disjoint_split_keeps_valid_clean(shared_data: SharedData) -> None:
    split = make_split(
        shared_data.path("datasets/fire_smoke"),
        shared_data.path("datasets/drones/images"),
        seed=0,
    )
    r = split.report
    test_clips = set(r["test_clips"])  # type: ignore[arg-type]
    train_groups = {s.group for s in split.fit + split.val}
    assert not test_clips & train_groups
    assert r["test_images_with_near_duplicate_in_fit_or_val"] == 0
    held = {s.path for s in split.heldout_negatives}
    assert held and not held & {s.path for s in split.fit + split.val}
    assert {s.group for s in split.heldout_negatives}.isdisjoint(train_groups)


def paths(samples: list[Sample]) -> set[Path]:
    return {s.path for s in samples}


@pytest.mark.shared_data
def test_refit_moves_val_positives_into_fit_and_keeps_heldout_out(shared_data: SharedData) -> None:
    args = (shared_data.path("datasets/fire_smoke"), shared_data.path("datasets/drones/images"))
    weapons = shared_data.path("datasets/weapons/train/images")
    kw = {"seed": 0, "disjoint_from_test": False, "weapons_images": weapons}
    plain = make_split(*args, **kw)  # type: ignore[arg-type]
    refit = make_split(*args, refit=True, **kw)  # type: ignore[arg-type]
    fire_val = [s for s in plain.val if s.source == "fire_smoke/train"]
    assert fire_val  # the plain split does hold fire_smoke clips out for early stopping
    assert refit.report["refit_moved_to_fit"] == len(fire_val)
    # every fire_smoke train/ image is fitted; val keeps exactly the plain split's negatives
    assert not any(s.source == "fire_smoke/train" for s in refit.val)
    assert paths(refit.fit) == paths(plain.fit) | paths(fire_val)
    assert paths(refit.val) == paths(plain.val) - paths(fire_val)
    assert all(s.kind == "none" for s in refit.val)
    # held-out false-alarm sets never reach training
    held = paths(refit.heldout_negatives) | paths(refit.heldout_weapons)
    assert held and not held & paths(refit.fit + refit.val)


@pytest.mark.shared_data
def test_refit_drones_also_fits_val_drone_sessions(shared_data: SharedData) -> None:
    args = (shared_data.path("datasets/fire_smoke"), shared_data.path("datasets/drones/images"))
    weapons = shared_data.path("datasets/weapons/train/images")
    kw = {"seed": 0, "disjoint_from_test": False, "weapons_images": weapons, "refit": True}
    refit = make_split(*args, **kw)  # type: ignore[arg-type]
    both = make_split(*args, refit_drones=True, **kw)  # type: ignore[arg-type]
    val_drones = [s for s in refit.val if s.source == "drones"]
    assert val_drones
    assert paths(both.fit) == paths(refit.fit) | paths(val_drones)
    assert {s.source for s in both.val} == {"weapons"}
    held = paths(both.heldout_negatives) | paths(both.heldout_weapons)
    assert held and not held & paths(both.fit + both.val)


@pytest.mark.shared_data
def test_refit_refuses_what_would_leave_val_useless(shared_data: SharedData) -> None:
    fire = shared_data.path("datasets/fire_smoke")
    drones = shared_data.path("datasets/drones/images")
    with pytest.raises(ValueError, match="--refit --refit-drones"):
        make_split(fire, drones, seed=0, refit_drones=True)
    with pytest.raises(ValueError, match="--weapons"):  # no weapons: val would be empty
        make_split(fire, drones, seed=0, disjoint_from_test=False, refit=True, refit_drones=True)
