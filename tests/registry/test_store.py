"""ModelStore: pull from a local HTTP mirror; every failure leaves the store unchanged."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.inference.errors import ChecksumMismatchError, FetchFailedError, ModelError
from node.registry.defaults import RegistryEntry, default_registry
from node.registry.store import ModelStore, default_store_dir, store_from_config
from tests.conftest import SharedData, free_port
from tests.inference.tiny_models import add_manifest, add_model, sha256
from tests.registry.mirror import Mirror, serve


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden and temp files included) with its bytes."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def files(tmp_path: Path) -> Path:
    d = tmp_path / "mirror"
    d.mkdir()
    add_model(d / "adder.onnx", 1.0)
    add_model(d / "other.onnx", 5.0)
    return d


@pytest.fixture
def mirror(files: Path) -> Iterator[Mirror]:
    with serve(files) as m:
        yield m


def registry(files: Path, **overrides: object) -> dict[str, RegistryEntry]:
    p = files / "adder.onnx"
    manifest = add_manifest(path=p).model_copy(update=overrides)
    return {"adder": RegistryEntry(file="adder.onnx", manifest=manifest)}


def store(tmp_path: Path, files: Path, mirror: str | None, **overrides: object) -> ModelStore:
    return ModelStore(
        tmp_path / "store", registry(files, **overrides), mirror=mirror, progress_stream=None
    )


def test_pull_then_second_pull_is_a_no_op(tmp_path: Path, files: Path, mirror: Mirror) -> None:
    s = store(tmp_path, files, mirror.url)
    first = s.pull("adder")
    assert first.action == "downloaded"
    assert sha256(first.path) == sha256(files / "adder.onnx")
    assert mirror.requests == ["/adder.onnx"]
    second = s.pull("adder")
    assert second.action == "present"
    assert mirror.requests == ["/adder.onnx"]  # nothing fetched the second time
    assert s.verify("adder").ok
    assert snapshot(s.root) == {"adder.onnx": (files / "adder.onnx").read_bytes()}


def test_checksum_mismatch_leaves_store_unchanged(
    tmp_path: Path, files: Path, mirror: Mirror
) -> None:
    s = store(tmp_path, files, mirror.url, sha256="0" * 64)
    before = snapshot(s.root)
    with pytest.raises(ChecksumMismatchError) as info:
        s.pull("adder")
    assert info.value.actual_sha256 == sha256(files / "adder.onnx")
    assert "checksum mismatch for adder" in str(info.value)
    assert snapshot(s.root) == before


def test_wrong_size_is_a_checksum_mismatch(tmp_path: Path, files: Path, mirror: Mirror) -> None:
    s = store(tmp_path, files, mirror.url, size=10)
    with pytest.raises(ChecksumMismatchError, match=r"size \d+ B != expected 10 B"):
        s.pull("adder")
    assert snapshot(s.root) == {}


def test_truncated_download_leaves_store_unchanged(
    tmp_path: Path, files: Path, mirror: Mirror
) -> None:
    s = store(tmp_path, files, mirror.url + "/truncated")
    with pytest.raises(FetchFailedError, match="truncated transfer"):
        s.pull("adder")
    assert snapshot(s.root) == {}


def test_404_leaves_store_unchanged(tmp_path: Path, files: Path, mirror: Mirror) -> None:
    s = store(tmp_path, files, mirror.url + "/nothing-here")
    with pytest.raises(FetchFailedError, match="HTTP 404"):
        s.pull("adder")
    assert snapshot(s.root) == {}


def test_unreachable_mirror_leaves_store_unchanged(tmp_path: Path, files: Path) -> None:
    port = free_port()  # bound then released: nothing listens there
    s = store(tmp_path, files, f"http://127.0.0.1:{port}")
    with pytest.raises(FetchFailedError, match="unreachable"):
        s.pull("adder")
    assert snapshot(s.root) == {}


def test_failed_repull_keeps_the_good_file(tmp_path: Path, files: Path, mirror: Mirror) -> None:
    s = store(tmp_path, files, mirror.url)
    s.pull("adder")
    before = snapshot(s.root)
    s.mirror = mirror.url + "/truncated"
    with pytest.raises(FetchFailedError):
        s.pull("adder", force=True)
    assert snapshot(s.root) == before


def test_corrupt_stored_file_is_replaced(tmp_path: Path, files: Path, mirror: Mirror) -> None:
    s = store(tmp_path, files, mirror.url)
    s.pull("adder").path.write_bytes(b"bit rot")
    assert not s.verify("adder").ok
    assert s.pull("adder").action == "downloaded"
    assert s.verify("adder").ok


def test_local_directory_mirror(tmp_path: Path, files: Path) -> None:
    s = store(tmp_path, files, str(files))
    path, manifest = s.ensure("adder")
    assert sha256(path) == manifest.sha256


def test_missing_file_in_local_mirror(tmp_path: Path, files: Path) -> None:
    s = store(tmp_path, files, str(files))
    (files / "adder.onnx").rename(files / "renamed.onnx")
    with pytest.raises(FetchFailedError, match="cannot fetch adder"):
        s.pull("adder")


def test_ensure_without_pull_names_the_fix(tmp_path: Path, files: Path) -> None:
    s = store(tmp_path, files, None)
    with pytest.raises(FetchFailedError, match="citywatch models pull"):
        s.ensure("adder", pull_missing=False)


def test_no_pinned_url_says_what_to_do(tmp_path: Path) -> None:
    s = ModelStore(tmp_path, progress_stream=None)
    with pytest.raises(FetchFailedError, match="CITYWATCH_MODEL_MIRROR"):
        s.pull("movenet_multipose")
    assert snapshot(tmp_path) == {}


def test_fetch_url_is_content_addressed(tmp_path: Path, files: Path, mirror: Mirror) -> None:
    s = store(tmp_path, files, None)
    digest = sha256(files / "other.onnx")
    p = s.fetch_url(mirror.url + "/other.onnx", digest, name="x")
    assert p == s.root / "blobs" / f"{digest}.onnx"
    s.fetch_url(mirror.url + "/other.onnx", digest, name="x")
    assert mirror.requests == ["/other.onnx"]


def test_unsupported_scheme(tmp_path: Path, files: Path) -> None:
    s = store(tmp_path, files, None)
    with pytest.raises(FetchFailedError, match="unsupported URL scheme 'ftp'"):
        s.fetch_url("ftp://example.org/x.onnx", "0" * 64, name="x")


def test_import_new_model_with_manifest(tmp_path: Path, files: Path) -> None:
    s = store(tmp_path, files, None)
    src = files / "other.onnx"
    s.import_file(src, "mine", add_manifest(name="mine"))
    assert "mine" in s.names()
    assert s.verify("mine").ok and s.status("mine").imported
    path, manifest = s.ensure("mine", pull_missing=False)
    assert (path.name, manifest.sha256, manifest.size) == (
        "mine.onnx",
        sha256(src),
        src.stat().st_size,
    )


def test_import_refuses_wrong_bytes_for_a_pinned_name(tmp_path: Path, files: Path) -> None:
    s = store(tmp_path, files, None)
    with pytest.raises(ChecksumMismatchError):
        s.import_file(files / "other.onnx", "adder")
    with pytest.raises(ModelError, match="give its manifest"):
        s.import_file(files / "other.onnx", "unknown")
    assert snapshot(s.root) == {}


def test_store_dir_and_mirror_resolution(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path), "CITYWATCH_MODEL_MIRROR": "/srv/models"}
    assert default_store_dir(env) == tmp_path / "citywatch" / "models"
    s = store_from_config(None, "http://config-mirror", environ=env, progress_stream=None)
    assert (s.root, s.mirror) == (tmp_path / "citywatch" / "models", "/srv/models")
    assert s.source("yunet") == "file:///srv/models/yunet_n_320_320.onnx"
    env.pop("CITYWATCH_MODEL_MIRROR")
    assert store_from_config("/x", "http://m/", environ=env).source("yunet") == (
        "http://m/yunet_n_320_320.onnx"
    )


def test_pull_every_default_model_over_http(shared_data: SharedData, tmp_path: Path) -> None:
    reg = default_registry()
    downloadable = sorted(n for n, e in reg.items() if e.bundled is None)
    bundled = sorted(n for n, e in reg.items() if e.bundled is not None)
    with serve(shared_data.path("models")) as m:
        s = ModelStore(tmp_path, mirror=m.url, progress_stream=None)
        for name in downloadable:
            assert s.pull(name).action == "downloaded"
            assert s.verify(name).ok
        for name in bundled:  # shipped in the repo: verified in place, never requested
            assert s.pull(name).action == "present"
            assert s.verify(name).ok
        assert all(s.pull(n).action == "present" for n in reg)
        assert len(m.requests) == len(downloadable)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]


def test_closed_port_helper_really_is_closed() -> None:
    port = free_port()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_unreachable_pinned_url_names_the_offline_fix(tmp_path: Path, files: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/adder.onnx"  # nothing listens there
    s = store(tmp_path, files, None, source_url=url)
    with pytest.raises(FetchFailedError) as err:
        s.pull("adder")
    assert str(err.value).startswith(f"cannot fetch adder from {url}: unreachable")
    assert str(err.value).endswith(
        "offline? set CITYWATCH_MODEL_MIRROR to a folder or URL holding adder.onnx, "
        "or run `citywatch models import FILE --name adder`"
    )
    assert snapshot(s.root) == {}
