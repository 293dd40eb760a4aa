"""``citywatch bench`` measures the movement stage (pose + features + classifier) at 1, 3 and 6
people (figures are measured, not checked: these tests check what is measured)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from node.bench import MIN_RUNS, frame_with_people, movement_latency, synthetic_walker
from node.cli.main import main
from node.movement.classifier import DEFAULT_SIDECAR, ClassifierManifest, MovementClassifier
from node.movement.features import FEATURES
from node.movement.pose import Poses
from tests.conftest import SharedData


def test_frame_with_people_tiles_one_person_per_cell() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 100:] = 255  # right half white, left half black
    f6 = frame_with_people(img, 6)
    assert f6.shape == (720, 1280, 3)
    # 3 columns x 2 rows of alternating halves: cell (0,0) black, (0,1) white, (1,0) white
    assert f6[100, 200].max() == 0 and f6[100, 600].min() == 255 and f6[500, 200].min() == 255
    f1 = frame_with_people(img, 1)
    assert f1.max() == 0  # one person: the left half stretched over the whole frame


def test_synthetic_walker_is_a_track_the_features_accept() -> None:
    s = synthetic_walker(np.random.default_rng(1), 4.0, 12.0)
    assert len(s) == 48 and s.keypoints.shape == (48, 17, 3)
    assert float(s.boxes[-1, 0] - s.boxes[0, 0]) > 0  # it walks


class CountingPose:
    def __init__(self) -> None:
        self.frames: list[tuple[int, ...]] = []

    def estimate(self, image: np.ndarray) -> Poses:
        self.frames.append(image.shape)
        return Poses.empty()


class CountingBackend:
    def __init__(self) -> None:
        self.batches: list[tuple[int, ...]] = []

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        return np.full((batch.shape[0], 6), 1 / 6, np.float32)


def test_movement_latency_runs_one_pose_and_one_batch_per_frame_and_size() -> None:
    pose, backend = CountingPose(), CountingBackend()
    clf = MovementClassifier(ClassifierManifest.load(DEFAULT_SIDECAR), backend)
    r = movement_latency(pose, clf, np.zeros((100, 200, 3), np.uint8), runs=2)
    assert r["runs"] == MIN_RUNS  # at least MIN_RUNS
    assert [x["people"] for x in r["rows"]] == [1, 3, 6]
    rounds = 2 + 3 * MIN_RUNS  # two warm-up calls, then each size once per round
    assert len(pose.frames) == rounds and all(f == (720, 1280, 3) for f in pose.frames)
    steps = clf.manifest.steps
    assert backend.batches[2:5] == [(n, steps, len(FEATURES)) for n in (1, 3, 6)]
    for x in r["rows"]:
        assert x["poses_found"] == 0  # what the estimator returned, not a fixed number
        assert set(x) == {"people", "poses_found", "pose_ms", "features_classifier_ms",
                          "total_ms", "p90_total_ms"}


@pytest.fixture
def mirrored_models(
    shared_data: SharedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry pulls from ../shared/models into a fresh cache (this machine is offline)."""
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _bench(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    base = ["bench", "--models", "yolox_nano", "--seconds", "0.05", "--overhead-n", "2", "--json"]
    assert main(base + args) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


@pytest.mark.shared_data
def test_bench_prints_the_movement_stage_with_the_node_models(
    shared_data: SharedData, mirrored_models: None, capsys: pytest.CaptureFixture[str],
) -> None:
    zidane = shared_data.path("datasets/images/zidane.jpg")
    r = _bench(["--movement-runs", "1", "--people-image", str(zidane)], capsys)
    mv = r["movement"]
    assert "error" not in mv, mv
    assert mv["pose_model"].startswith("movenet_multipose") and mv["pose_long_side"] == 256
    assert mv["classifier"].startswith("movement_tcn@") and mv["image"] == str(zidane)
    assert [x["people"] for x in mv["rows"]] == [1, 3, 6]
    one, three, six = mv["rows"]
    assert one["poses_found"] == 1  # MoveNet sees the one player of half the photo
    assert 1 <= three["poses_found"] <= 3 and 1 <= six["poses_found"] <= 6
    assert all(x["pose_ms"] > 0 and x["features_classifier_ms"] > 0 for x in mv["rows"])
    assert "movement" not in _bench(["--movement-runs", "0"], capsys)
    # the table form prints it too
    assert main(["bench", "--models", "yolox_nano", "--seconds", "0.05", "--overhead-n", "2",
                 "--movement-runs", "1"]) == 0
    assert "movement stage per frame" in capsys.readouterr().out


@pytest.mark.shared_data
def test_bench_reports_a_movement_failure_and_still_prints_the_rest(
    mirrored_models: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    r = _bench(["--movement-runs", "1", "--people-image", str(tmp_path / "nope.jpg")], capsys)
    assert "cannot read --people-image" in r["movement"]["error"]
    assert r["latency"][0]["model"] == "yolox_nano"


def test_sample_frame_says_where_the_frame_came_from(tmp_path: Path) -> None:
    """An unreadable --video falls back to noise, and the bench must say noise, not the video."""
    import cv2

    from node.cli.bench_cmd import NOISE_SOURCE, VIDEO_SOURCE, _sample_frame

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    frame, source = _sample_frame(str(broken))
    assert source == NOISE_SOURCE and frame.shape == (1080, 1920, 3)
    assert _sample_frame(None)[1] == NOISE_SOURCE
    clip = tmp_path / "ok.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for _ in range(3):
        writer.write(np.full((48, 64, 3), 128, np.uint8))
    writer.release()
    frame, source = _sample_frame(str(clip))
    assert source == VIDEO_SOURCE and frame.shape == (48, 64, 3)
