"""Line counts on real street video against ground truth counted by hand (docs/zones.md says how):
``citywatch analyze --json`` with the config's lines, the real detector, every 5th frame (5 fps,
the objects analytic's default rate)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from node.cli.main import main
from tests.conftest import SharedData

PEDESTRIANS = {
    "lines": [
        {"name": "left_pavement", "points": [[90, 360], [460, 700]]},
        {"name": "street", "points": [[760, 380], [1000, 900]]},
        {"name": "shop_door", "points": [[1690, 700], [1790, 700]]},
    ],
    # by hand: 5 + 2 + 1 people walking up the street, nobody down it
    "truth": {("left_pavement", "in"): 5, ("street", "in"): 2, ("shop_door", "in"): 1},
}
CONCOURSE = {
    "lines": [{"name": "hall", "points": [[0, 480], [1280, 480]]}],
    "truth": {("hall", "in"): 7, ("hall", "out"): 12},  # 7 walked up, 12 down
}


def crossings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, video: Path, lines: list[object]
) -> Counter[tuple[str, str]]:
    config = tmp_path / "zones.yaml"
    config.write_text(yaml.safe_dump({"cameras": [{"name": "cam", "source": str(video),
                                                   "lines": lines}]}))  # fmt: skip
    assert main(["analyze", str(video), "--config", str(config), "--json", "--every", "5"]) == 0
    got: Counter[tuple[str, str]] = Counter()
    for line in capsys.readouterr().out.splitlines():
        event = json.loads(line).get("event")
        if event and event["type"] == "line.crossed":
            assert event["camera"] == "cam"  # the config camera whose source is the file
            got[(event["attributes"]["line"], event["attributes"]["direction"])] += 1
    return got


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("video", "case"),
    [("pedestrians.mp4", PEDESTRIANS), ("example_02.mp4", CONCOURSE)],
)
def test_line_counts_within_ten_percent_of_hand_counts(
    shared_data: SharedData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    video: str,
    case: dict[str, object],
) -> None:
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = shared_data.path(f"datasets/videos/{video}")
    got = crossings(capsys, tmp_path, path, case["lines"])  # type: ignore[arg-type]
    truth: dict[tuple[str, str], int] = case["truth"]  # type: ignore[assignment]
    total, expected = sum(got.values()), sum(truth.values())
    assert abs(total - expected) <= 0.1 * expected, (dict(got), truth)
    for key in set(got) | set(truth):  # and no direction or line far off on its own
        assert abs(got[key] - truth.get(key, 0)) <= max(1, 0.1 * truth.get(key, 0)), (key, got)
