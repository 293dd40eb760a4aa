"""The `valid/` report restricted to images without a near-duplicate in `train/`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.fire.data import load_yolo_split
from models.fire.evaluate import Scored, unseen_report
from tests.conftest import SharedData


def _write(split: Path, name: str, image: np.ndarray, label: str) -> None:
    (split / "images").mkdir(parents=True, exist_ok=True)
    (split / "labels").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(split / "images" / f"{name}.jpg"), image)
    (split / "labels" / f"{name}.txt").write_text(label)


def test_unseen_report_drops_valid_images_with_a_train_near_duplicate(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seen = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    fresh = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(2)]
    _write(tmp_path / "train", "clip_mp4-1_jpg", seen, "0 0.5 0.5 0.2 0.2\n")
    _write(tmp_path / "valid", "clip_mp4-2_jpg", seen, "0 0.5 0.5 0.2 0.2\n")  # a re-export
    _write(tmp_path / "valid", "other_mp4-1_jpg", fresh[0], "0 0.5 0.5 0.2 0.2\n")
    _write(tmp_path / "valid", "other_mp4-2_jpg", fresh[1], "2 0.5 0.5 0.4 0.4\n")
    samples = load_yolo_split(tmp_path / "valid", "valid")
    # the re-exported frame is scored wrong, the two unseen ones right
    by_name = {"clip_mp4-2_jpg": [0.1, 0.9], "other_mp4-1_jpg": [0.9, 0.1],
               "other_mp4-2_jpg": [0.1, 0.9]}
    scored = [
        Scored(s.path.name, np.asarray(by_name[s.path.stem], np.float32), s.target)
        for s in samples
    ]
    report = unseen_report(scored, samples, tmp_path / "train", {"fire": 0.5, "smoke": 0.5})
    assert report["images"] == 2
    assert report["with_near_duplicate_in_train"] == 1
    assert report["per_class"]["fire"]["f1"] == 1.0
    assert report["per_class"]["smoke"]["f1"] == 1.0


@pytest.mark.shared_data
def test_cam_sweep_hit_rate_is_what_the_evaluation_reports(shared_data: SharedData) -> None:
    """The sweep that chooses the node's CAM rule counts hits as the evaluation does."""
    from models.fire.evaluate import (
        cam_sweep,
        classification_report,
        load_model,
        score_samples,
    )
    from node.fire.model import DEFAULT_MANIFEST

    model = load_model(DEFAULT_MANIFEST, "fp32")
    split = load_yolo_split(shared_data.path("datasets/fire_smoke/valid"), "valid")
    fire = [s for s in split if s.fire_boxes][:6]
    rows = cam_sweep(model, fire, thresholds=(0.6, 0.7))["rows"]
    for row in rows:
        scored = score_samples(model, fire, row["threshold"], row["region"])
        report = classification_report(scored, {"fire": 0.5, "smoke": 0.5})
        assert row["hit_rate"] == report["cam_fire_iou"]["hit_rate@0.3"]
        assert row["hit_rate"] >= max(row["hit_rate_union"], row["hit_rate_best_box"])
