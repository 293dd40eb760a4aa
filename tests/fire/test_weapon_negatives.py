"""Weapons-set images as scene negatives: grouped by source, filtered by name, split by group."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.fire.data import load_weapon_negatives, split_weapon_groups, weapon_group
from tests.conftest import SharedData


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("DefenseKnifeAttack0051_jpg.rf.166b.jpg", "weapons_DefenseKnifeAttack"),
        ("knife-12_jpg.rf.ab.jpg", "weapons_knife"),
        ("Video-shows-robbery-opencv0-00-19_jpg.rf.ab.jpg", "weapons_Video-shows-robbery"),
        ("09AR2IT2MKAF_jpg.rf.6d46.jpg", "weapons_09AR2IT2MKAF"),
    ],
)
def test_weapon_group_joins_numbered_frames_of_one_source(name: str, group: str) -> None:
    assert weapon_group(Path(name)) == group


def test_weapon_negatives_drop_names_that_may_show_smoke_or_fire(tmp_path: Path) -> None:
    names = (
        "a_1_jpg.rf.x.jpg",
        "holding-smoke-stick_jpg.rf.x.jpg",
        "Gun-fight_mp4-2_jpg.rf.x.jpg",
        "marine-fires_jpg.rf.x.jpg",
        "b_2_jpg.rf.x.jpg",
    )
    for n in names:
        (tmp_path / n).write_bytes(b"")
    kept, dropped = load_weapon_negatives(tmp_path)
    assert sorted(s.path.name for s in kept) == ["a_1_jpg.rf.x.jpg", "b_2_jpg.rf.x.jpg"]
    assert len(dropped) == 3
    assert all(not s.fire and not s.smoke and s.source == "weapons" for s in kept)


@pytest.mark.shared_data
def test_weapon_split_is_by_group_and_seeded(shared_data: SharedData) -> None:
    kept, _ = load_weapon_negatives(shared_data.path("datasets/weapons/train/images"))
    train, held = split_weapon_groups(kept, seed=0)
    assert held and train and len(train) + len(held) == len(kept)
    assert not {s.group for s in train} & {s.group for s in held}
    again, _ = split_weapon_groups(kept, seed=0)
    assert [s.path for s in again] == [s.path for s in train]
