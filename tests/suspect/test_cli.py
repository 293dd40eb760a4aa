"""``citywatch-train data`` and ``citywatch-train eval suspect`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.cli.main import main
from tests.suspect.test_mix import _backgrounds, _objects


def test_data_mix_then_validate_and_convert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs, bgs = _objects(tmp_path), _backgrounds(tmp_path)
    out = tmp_path / "mix"
    args = ["data", "mix", "--objects", str(objs), "--backgrounds", str(bgs), "--out", str(out)]
    assert main([*args, "-n", "6", "--seed", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 6 and report["classes"] == ["drone", "gun"]
    assert main(["data", "validate", "--data", str(out), "--classes", "drone,gun"]) == 0
    boxes = json.loads(capsys.readouterr().out)["boxes"]
    assert sum(boxes.values()) == sum(report["boxes"].values())
    csv = tmp_path / "a.csv"
    conv = ["data", "convert", "--data", str(out), "--classes", "drone,gun", "--to-csv", str(csv)]
    assert main(conv) == 0
    capsys.readouterr()
    assert main(["data", "validate", "--csv", str(csv)]) == 0  # paths relative to the CSV


def test_data_errors_name_the_file_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs, bgs = _objects(tmp_path), _backgrounds(tmp_path)
    (objs / "knife").mkdir()
    args = ["data", "mix", "--objects", str(objs), "--backgrounds", str(bgs), "--out", "x"]
    assert main([*args, "-n", "1"]) == 2
    assert f"error: {objs / 'knife'}: empty class folder" in capsys.readouterr().err
    root = tmp_path / "y"
    (root / "images").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    assert main(["data", "validate", "--data", str(root), "--classes", "gun"]) == 2
    err = capsys.readouterr().err
    assert f"{root / 'labels' / 'a.txt'}: missing label file for image a.jpg" in err


def test_eval_suspect_without_data_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "suspect"]) == 2
    assert "nothing to evaluate" in capsys.readouterr().out
