"""``citywatch faces`` gets its models from the registry, like ``run`` and ``analyze``: a fresh
user, in an empty folder, with only ``CITYWATCH_MODEL_MIRROR`` set, can enroll; without the
models it is one line naming the model and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SharedData

REPO = Path(__file__).resolve().parents[2]
FACE_FILES = {"yunet_n_320_320.onnx", "MobileFaceNet.onnx"}


def citywatch(home: Path, *args: str, mirror: Path) -> subprocess.CompletedProcess[str]:
    """``citywatch ARGS`` from an empty folder, with no variable but the mirror (and a home)."""
    cwd = home / "empty"
    cwd.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        "CITYWATCH_MODEL_MIRROR": str(mirror),
    }
    return subprocess.run(
        [sys.executable, "-m", "node", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.shared_data
def test_enroll_from_an_empty_folder_pulls_the_face_models(
    shared_data: SharedData, tmp_path: Path
) -> None:
    mirror = shared_data.path("models")
    person = shared_data.path("datasets/faces/celeb5/train/madonna")
    images = [str(p) for p in sorted(person.iterdir())[:2]]
    done = citywatch(tmp_path, "faces", "enroll", "madonna", *images, mirror=mirror)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 2
    store = tmp_path / ".cache" / "citywatch" / "models"
    assert {p.name for p in store.iterdir()} >= FACE_FILES
    listed = citywatch(tmp_path, "faces", "list", mirror=mirror)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("madonna\t2 samples")


def test_enroll_without_the_models_is_one_line_naming_model_and_fix(tmp_path: Path) -> None:
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    done = citywatch(tmp_path, "faces", "enroll", "x", "x.jpg", mirror=empty_mirror)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("citywatch faces: error: cannot fetch yunet from file://")
    assert f"check that {empty_mirror} holds yunet_n_320_320.onnx" in lines[0]
