"""``citywatch models``: exit codes and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.cli.main import main
from tests.conftest import free_port
from tests.inference.tiny_models import add_manifest, add_model
from tests.registry.mirror import Mirror, serve


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "store")


@pytest.fixture
def empty_mirror(tmp_path: Path) -> Iterator[Mirror]:
    d = tmp_path / "empty"
    d.mkdir()
    with serve(d) as m:
        yield m


def test_pull_404_exits_2_with_one_line(
    store: str, empty_mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["models", "--store", store, "--mirror", empty_mirror.url, "pull", "yunet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("citywatch models: error: cannot fetch yunet from http")
    assert "HTTP 404" in err[-1]
    assert not Path(store).exists() or not any(Path(store).iterdir())


def test_unreachable_and_usage_errors(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = f"http://127.0.0.1:{free_port()}"
    assert main(["models", "--store", store, "--mirror", mirror, "pull", "yunet"]) == 2
    assert "unreachable" in capsys.readouterr().err
    assert main(["models", "--store", store, "pull"]) == 2
    assert main(["models", "--store", store, "pull", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_import_list_verify(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = add_model(tmp_path / "m.onnx", 1.0)
    man = tmp_path / "mine.json"
    man.write_text(add_manifest(name="mine").model_dump_json())
    assert main(["models", "--store", store, "import", str(model), "--name", "mine",
                 "--manifest", str(man)]) == 0
    assert main(["models", "--store", store, "list"]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "yolox_nano" in out
    assert main(["models", "--store", store, "verify", "mine"]) == 0
    (Path(store) / "mine.onnx").write_bytes(b"tampered")
    assert main(["models", "--store", store, "verify", "mine"]) == 2
    assert "CORRUPT" in capsys.readouterr().out


def test_movenet_list_and_pull_name_the_command_that_makes_it(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CITYWATCH_MODEL_MIRROR", raising=False)
    assert main(["models", "--store", store, "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["movenet_multipose"].endswith("(make: citywatch-train convert movenet)")
    assert main(["models", "--store", store, "pull", "movenet_multipose"]) == 2
    err = capsys.readouterr().err
    assert "make it with `citywatch-train convert movenet`, then run `citywatch models" in err
