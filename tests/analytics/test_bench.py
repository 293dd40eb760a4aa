"""``citywatch bench`` runs and reports what it promises (figures are measured, not checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.bench import MIN_RUNS, time_calls
from node.cli.main import main
from tests.conftest import SharedData


def test_time_calls_runs_at_least_min_runs() -> None:
    calls: list[int] = []
    ms = time_calls(lambda: calls.append(1), seconds=0.0)
    assert len(ms) == len(calls) == MIN_RUNS
    assert all(m >= 0 for m in ms)


@pytest.mark.shared_data
def test_bench_json_has_latency_and_overhead_per_model(
    shared_data: SharedData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CITYWATCH_MODEL_MIRROR", str(shared_data.path("models")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    args = ["bench", "--models", "yolox_nano", "--seconds", "0.1", "--overhead-n", "2", "--json"]
    assert main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["machine"]["cpu_count"] >= 1 and "CPUExecutionProvider" in r["machine"]["providers"]
    cpu = [x for x in r["latency"] if x["provider"] == "CPUExecutionProvider"]
    assert len(cpu) == 1 and cpu[0]["error"] is None
    row = cpu[0]
    assert row["input"] == "1x3x416x416" and row["file_mb"] == pytest.approx(3.66, abs=0.01)
    assert row["runs"] >= MIN_RUNS and 0 < row["median_ms"] <= row["p90_ms"]
    assert row["fps"] == pytest.approx(1000 / row["median_ms"], rel=0.01)
    assert r["wrapper_overhead"][0]["model"] == "yolox_nano"
    assert "pipeline" not in r  # no --video: no pipeline measurement
