"""Dataset tools: YOLO/CSV round trip, validation errors that name the file, class-map merge,
group splits (reproducible, no group in two splits), and the real exports' class ids."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.suspect.dataset import (
    Dataset,
    DatasetError,
    LabeledImage,
    group_of,
    merge,
    read_csv,
    read_yolo,
    remap,
    split_groups,
    write_csv,
    write_yolo_labels,
)
from tests.conftest import SharedData


def _yolo(root: Path, labels: dict[str, str | None], size: tuple[int, int] = (100, 200)) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for stem, text in labels.items():
        cv2.imwrite(str(root / "images" / f"{stem}.jpg"), np.zeros((*size, 3), np.uint8))
        if text is not None:
            (root / "labels" / f"{stem}.txt").write_text(text)
    return root


def test_yolo_reads_boxes_and_converts_polygons(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "d", {"a": "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.3 0.1 0.3 0.5 0.1 0.5\n"})
    ds = read_yolo(root, ["pistol", "knife"])
    item = ds.items[0]
    assert item.class_ids.tolist() == [0, 1]
    np.testing.assert_allclose(item.boxes, [[0.4, 0.3, 0.6, 0.7], [0.1, 0.1, 0.3, 0.5]], atol=1e-6)
    assert ds.polygons_converted == 1
    assert ds.counts() == {"pistol": 1, "knife": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0.9 0.5 0.4 0.2\n", "box outside the image"),
        ("5 0.5 0.5 0.2 0.2\n", "unknown class id 5"),
        ("0 0.5 0.5 0.0 0.2\n", "no area"),
        ("0 0.5 0.5 0.2\n", "expected 4 box values"),
        ("0 a b c d\n", "not numbers"),
    ],
)
def test_bad_label_lines_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    root = _yolo(tmp_path / "d", {"ok": "0 0.5 0.5 0.2 0.2\n", "bad": "0 0.5 0.5 0.1 0.1\n" + text})
    with pytest.raises(DatasetError, match=message) as err:
        read_yolo(root, ["pistol", "knife"])
    assert str(err.value).startswith(f"{root / 'labels' / 'bad.txt'}:2: ")


def test_missing_label_file_is_named_unless_allowed(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "d", {"a": "0 0.5 0.5 0.2 0.2\n", "neg": None})
    with pytest.raises(DatasetError, match=r"missing label file for image neg\.jpg") as err:
        read_yolo(root, ["pistol"])
    assert err.value.path == root / "labels" / "neg.txt"
    ds = read_yolo(root, ["pistol"], allow_missing_labels=True)
    assert [len(i.class_ids) for i in ds.items] == [1, 0]


def test_csv_round_trip_and_out_of_image_box(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "d", {"a": "0 0.5 0.5 0.2 0.4\n1 0.25 0.25 0.1 0.1\n"})
    ds = read_yolo(root, ["pistol", "knife"])
    write_csv(root / "annotations.csv", ds)
    rows = (root / "annotations.csv").read_text().splitlines()
    assert rows[0] == "image,label,x1,y1,x2,y2"
    assert rows[1] == "images/a.jpg,pistol,80,30,120,70"  # 200 wide, 100 high
    back = read_csv(root / "annotations.csv")
    assert back.classes == ["pistol", "knife"]
    np.testing.assert_allclose(back.items[0].boxes, ds.items[0].boxes, atol=1e-3)
    bad = root / "bad.csv"
    bad.write_text("image,label,x1,y1,x2,y2\nimages/a.jpg,pistol,150,10,260,50\n")
    with pytest.raises(DatasetError, match=r"bad\.csv:2: box outside the image \(200x100\)"):
        read_csv(bad)
    missing = root / "missing.csv"
    missing.write_text("image,label,x1,y1,x2,y2\nimages/zzz.jpg,pistol,1,1,5,5\n")
    with pytest.raises(DatasetError, match=r"missing\.csv:2: image .*zzz\.jpg not found"):
        read_csv(missing)


def test_remap_and_merge_with_a_class_map() -> None:
    unit = np.array([[0, 0, 1, 1]], np.float32)
    a = Dataset(
        ["Pistol", "long weapon", "rifle"],
        [LabeledImage(Path("a.jpg"), np.array([0, 1, 2]), np.repeat(unit, 3, axis=0))],
    )
    b = Dataset(["drone"], [LabeledImage(Path("b.jpg"), np.array([0]), unit)])
    classes = ["person", "pistol", "long_gun", "drone"]
    ra = remap(a, {"Pistol": "pistol", "long weapon": None, "rifle": "long_gun"}, classes)
    assert ra.items[0].class_ids.tolist() == [1, 2]
    m = merge([ra, remap(b, {"drone": "drone"}, classes)])
    assert m.counts() == {"person": 0, "pistol": 1, "long_gun": 1, "drone": 1}
    with pytest.raises(ValueError, match="no entry for"):
        remap(a, {"Pistol": "pistol"}, classes)
    with pytest.raises(ValueError, match="class lists differ"):
        merge([a, b])


def test_groups_from_file_names() -> None:
    rf = "_jpg.rf.0123abcd"
    assert group_of(Path(f"image_7_20250902_134616{rf}.jpg")) == "drone_20250902_13"
    assert group_of(Path(f"clipA_mp4-12{rf}.jpg")) == group_of(Path(f"clipA_mp4-99{rf}.jpg"))
    assert group_of(Path(f"20220325_005407-opencv0-00-12-01{rf}.jpg")) == group_of(
        Path(f"20220325_005407-opencv0-00-49-03{rf}.jpg")
    )
    assert group_of(Path(f"knife_984{rf}.jpg")) == group_of(Path(f"knife_951{rf}.jpg"))
    assert group_of(Path(f"knife_984{rf}.jpg")) != group_of(Path(f"knife_95{rf}.jpg"))
    # Roboflow's augmented copies of one source share the group
    assert group_of(Path("x_jpg.rf.aaaa.jpg")) == group_of(Path("x_jpg.rf.bbbb.jpg"))


def test_split_keeps_groups_whole_and_is_seeded() -> None:
    items = [
        LabeledImage(Path(f"g{g}_{k}.jpg"), group=f"g{g}")
        for g in range(40)
        for k in range(g % 5 + 1)
    ]
    fr = {"train": 0.7, "val": 0.1, "test": 0.2}
    a, b = split_groups(items, fr, seed=1), split_groups(items, fr, seed=1)
    assert {k: [i.image for i in v] for k, v in a.items()} == {
        k: [i.image for i in v] for k, v in b.items()
    }
    groups = {k: {i.group for i in v} for k, v in a.items()}
    assert not (groups["train"] & groups["test"]) and not (groups["val"] & groups["test"])
    assert sum(len(v) for v in a.values()) == len(items)
    assert abs(len(a["test"]) / len(items) - 0.2) < 0.06
    c = split_groups(items, fr, seed=2)
    assert {i.group for i in c["test"]} != groups["test"]


def test_write_yolo_labels_round_trip(tmp_path: Path) -> None:
    boxes = np.array([[0.1, 0.2, 0.5, 0.6]], np.float32)
    write_yolo_labels(tmp_path / "labels" / "x.txt", [2], boxes)
    assert (tmp_path / "labels" / "x.txt").read_text() == "2 0.300000 0.400000 0.400000 0.400000\n"


@pytest.mark.shared_data
def test_weapons_export_has_three_ids_and_polygons(shared_data: SharedData) -> None:
    """The export's data.yaml names two classes but ids 0, 1, 2 occur; read as three classes."""
    root = shared_data.path("datasets/weapons/train")
    ds = read_yolo(root, ["pistol", "knife", "long_gun"])
    assert len(ds.items) == 999
    assert ds.counts() == {"pistol": 436, "knife": 334, "long_gun": 296}
    assert ds.polygons_converted == 98
    with pytest.raises(DatasetError, match="unknown class id 2"):
        read_yolo(root, ["Pistol", "long weapon"])
