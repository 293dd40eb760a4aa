"""Round 2: weapons negatives, CCTV augmentation, capped thresholds, k-of-n video counting,
CAM region rules and the INT8 node exclusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.fire import metrics
from models.fire.augment import augment, cctv
from models.fire.data import load_weapon_negatives, split_weapon_groups, weapon_group
from models.fire.evaluate import smoothed_alarms
from node.fire.cam import cam_box, largest_region_box, union_box
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


def test_cctv_augmentation_is_grey_flat_and_reproducible() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    a = cctv(img, np.random.default_rng(1))
    b = cctv(img, np.random.default_rng(1))
    assert a.shape == img.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert a.astype(np.float32).std() < img.astype(np.float32).std()  # lower contrast
    chroma = np.abs(a[..., 0].astype(int) - a[..., 2].astype(int)).mean()
    assert chroma < np.abs(img[..., 0].astype(int) - img[..., 2].astype(int)).mean()
    out = augment(img, [], np.random.default_rng(3), 64)
    assert out.shape == (64, 64, 3)


def test_capped_threshold_respects_the_false_alarm_cap() -> None:
    # positives at 0.6-0.9; negatives: one at 0.7, the rest low
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    s = np.array([0.6, 0.7, 0.8, 0.9, 0.72, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    neg = ~y
    uncapped = metrics.best_f1_threshold(y, s)
    assert uncapped == 0.5
    capped = metrics.capped_f1_threshold(y, s, neg, max_false_alarm=0.0)
    assert capped == 0.73  # the first grid point above the loud negative
    assert metrics.capped_f1_threshold(y, s, neg, max_false_alarm=0.2) == 0.5
    # no quiet threshold on the grid: the ceiling
    assert metrics.capped_f1_threshold(y, np.where(neg, 0.99, s), neg, 0.0) == 0.95


def test_smoothed_alarms_count_rises_not_frames() -> None:
    th = {"fire": 0.5, "smoke": 0.5}
    seq = [np.array([v, 0.0], np.float32) for v in [0.9, 0.1, 0.1, 0.1, 0.1]]  # one spike
    assert smoothed_alarms(seq, th) == {"alarm_frame_rate": 0.0, "alarm_events": 0}
    seq = [np.array([v, 0.0], np.float32) for v in [0.9] * 6 + [0.0] * 10]
    r = smoothed_alarms(seq, th)
    assert r["alarm_events"] == 1
    # rises on frame 3 (3 of 5), holds while one of the last 5 >= 0.35: frames 3..10
    assert r["alarm_frame_rate"] == round(8 / 16, 4)


def test_cam_region_rules() -> None:
    mask = np.zeros((10, 10), bool)
    mask[1:3, 1:3] = True  # small region
    mask[5:9, 4:9] = True  # large region
    assert largest_region_box(mask) == (4, 5, 9, 9)
    assert union_box(mask) == (1, 1, 9, 9)
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0] = 1.0
    cam[2:4, 2:4] = 0.9
    peak = cam_box(cam, 128, 128, 0.5, "peak")
    largest = cam_box(cam, 128, 128, 0.5, "largest")
    union = cam_box(cam, 128, 128, 0.5, "union")
    assert peak[2] < 64 and largest[0] > 48 and union[0] == 0 and union[2] == 128
    with pytest.raises(ValueError, match="region"):
        cam_box(cam, 128, 128, 0.5, "biggest")  # type: ignore[arg-type]


def test_int8_exclusion_names_the_head_nodes() -> None:
    pytest.importorskip("onnx")
    from models.fire.quantize import nodes_to_exclude
    from node.fire.model import MODELS_DIR

    fp32 = MODELS_DIR / "fire_fp32.onnx"
    head = nodes_to_exclude(fp32, "head")
    assert "/net/head/Gemm" in head and "/Sigmoid" in head
    assert any(n.startswith("/net/neck/") for n in head)
    assert not any(n.startswith("/net/backbone/") for n in head)
    assert nodes_to_exclude(fp32, "none") == []
    dw = nodes_to_exclude(fp32, "head+depthwise")
    assert len(dw) > len(head) and any("/net/backbone/" in n for n in dw)
