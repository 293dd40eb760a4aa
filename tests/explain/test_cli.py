"""``citywatch explain``: every method through the CLI with the report's JSON shape, and clear
one-line errors. The fire and suspect models are bundled, so most of this needs no shared data."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from node.cli.main import main
from schemas.explain import ExplainReport
from tests.conftest import SharedData

KEYS = {"method", "model", "target", "peak", "box", "masks", "ms"}


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def _picture(path: Path) -> Path:
    """An orange blob on a dark street-coloured background (not a test of the model's skill)."""
    image = np.full((120, 160, 3), (60, 60, 70), np.uint8)
    cv2.circle(image, (110, 40), 25, (0, 120, 255), -1)
    cv2.imwrite(str(path), image)
    return path


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["explain", *args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ExplainReport.model_validate(out)
    return dict(out)


@pytest.mark.parametrize(
    ("method", "budget", "masks"),
    [("cam", "1", 1), ("gradcam", "1", 1), ("rise", "24", 24), ("occlusion", "30", None),
     ("lime", "24", 24)],
)  # fmt: skip
def test_fire_methods_print_the_report_and_write_the_overlay(
    isolated: Path, capsys: pytest.CaptureFixture[str], method: str, budget: str,
    masks: int | None,
) -> None:  # fmt: skip
    image, out = _picture(isolated / "scene.png"), isolated / "heat.png"
    report = _explain(capsys, str(image), "--model", "fire", "--method", method, "--target",
                      "fire", "--budget-masks", budget, "--out", str(out))  # fmt: skip
    assert set(report) >= KEYS
    assert report["method"] == method and report["model"] == "fire"
    assert report["target"] == "fire"
    x, y = report["peak"]  # type: ignore[misc]
    x1, y1, x2, y2 = report["box"]  # type: ignore[misc]
    assert 0 <= x < 160 and 0 <= y < 120 and 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 120
    if masks is not None:
        assert report["masks"] == masks
    else:
        assert 1 < report["masks"] <= 30  # type: ignore[operator]
    written = cv2.imread(str(out))
    assert written is not None and written.shape == (120, 160, 3)


def test_drise_explains_a_given_box_of_the_suspect_detector(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = _picture(isolated / "scene.png")
    report = _explain(capsys, str(image), "--model", "suspect", "--method", "drise", "--box",
                      "80,10,140,70", "--target", "pistol", "--budget-masks", "8", "--out",
                      str(isolated / "heat.jpg"))  # fmt: skip
    assert report["target"] == "pistol@[80, 10, 140, 70]"
    assert report["masks"] == 9  # the unmasked pass and the 8 masks


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "fire", "--method", "drise"], "drise is not available for fire"),
        (["--model", "objects", "--method", "gradcam"], "objects supports drise, occlusion"),
        (["--model", "fire", "--method", "rise", "--target", "flame"], "unknown class 'flame'"),
        (["--model", "fire", "--method", "rise", "--budget-masks", "99999"],
         "budget 99999 is more than this node allows"),
        (["--model", "suspect", "--method", "drise", "--target", "drone"],
         "no 'drone' detected"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_with_exit_2(
    isolated: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    image = _picture(isolated / "scene.png")
    assert main(["explain", str(image), *args, "--out", str(isolated / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_unreadable_image_and_bad_box_are_refused(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = isolated / "not.png"
    bad.write_bytes(b"nope")
    assert main(["explain", str(bad), "--model", "fire", "--method", "cam", "--out",
                 str(isolated / "x.png")]) == 2  # fmt: skip
    assert "not a readable image" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["explain", str(bad), "--model", "suspect", "--method", "drise", "--box", "5,5,1,1",
              "--out", "x.png"])  # fmt: skip
    assert exit_.value.code == 2
    assert "x1 < x2" in capsys.readouterr().err


@pytest.mark.shared_data
def test_face_occlusion_reports_region_drops_for_an_enrolled_identity(
    shared_data: SharedData, isolated: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    astronaut = shared_data.path("datasets/images/astronaut.png")
    assert main(["faces", "enroll", "eileen", str(astronaut)]) == 0
    capsys.readouterr()
    report = _explain(capsys, str(astronaut), "--model", "faces", "--method", "occlusion",
                      "--identity", "eileen", "--out", str(isolated / "face.png"))  # fmt: skip
    assert str(report["target"]).startswith("eileen@[")
    regions = report["regions"]
    assert set(regions) == {"left_eye", "right_eye", "nose", "mouth"}  # type: ignore[arg-type]
    # the map peaks on the face, inside YuNet's box
    x1, y1, x2, y2 = (int(v) for v in str(report["target"]).split("@")[1].strip("[]").split(","))
    x, y = report["peak"]  # type: ignore[misc]
    assert x1 <= x <= x2 and y1 <= y <= y2
    assert main(["explain", str(astronaut), "--model", "faces", "--method", "rise",
                 "--identity", "nobody", "--out", str(isolated / "x.png")]) == 2  # fmt: skip
    assert "unknown identity 'nobody'; enrolled: ['eileen']" in capsys.readouterr().err
