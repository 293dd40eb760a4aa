"""The suspect detector's classes, sources and held-out splits (numpy only: the eval CLI uses it).

* ``shared/datasets/weapons/train``: ids checked by looking at the images: **0 = pistol,
  1 = knife, 2 = long gun** (rifles, shotguns). ``data.yaml``'s ``'long weapon'`` at id 1 is wrong.
* ``shared/datasets/drones``: 0 = drone.

Each source is split by group (source clip / capture session, :func:`group_of`) with seed 0:
70 % train, 10 % val (checkpoint selection), 20 % test (held out: never trained on or selected on).
"""

from __future__ import annotations

from pathlib import Path

from models.suspect.dataset import Dataset, LabeledImage, read_yolo, remap, split_groups

CLASSES = ("person", "pistol", "long_gun", "knife", "drone")
WEAPON_IDS = ("pistol", "knife", "long_gun")  # as seen in the images, not as data.yaml says
SPLIT = {"train": 0.7, "val": 0.1, "test": 0.2}
SPLIT_SEED = 0


def load_sources(shared: Path) -> dict[str, Dataset]:
    weapons = read_yolo(shared / "datasets/weapons/train", WEAPON_IDS)
    drones = read_yolo(shared / "datasets/drones", ["drone"])
    same = {c: c for c in CLASSES}
    return {
        "weapons": remap(weapons, same, CLASSES),
        "drones": remap(drones, same, CLASSES),
    }


def make_splits(shared: Path, seed: int = SPLIT_SEED) -> dict[str, dict[str, list[LabeledImage]]]:
    """Per source: train / val (selection) / test (held out), whole groups each."""
    return {name: split_groups(ds.items, SPLIT, seed) for name, ds in load_sources(shared).items()}
