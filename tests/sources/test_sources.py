"""Sources on their own: kind detection, files, folders, corrupt input, cameras."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from node.sources.base import SourceCorrupt, SourceEnded, SourceUnavailable, redact
from node.sources.camera import CameraSource
from node.sources.factory import open_source, source_kind
from node.sources.folder import FolderSource
from node.sources.video import VideoSource
from schemas.config.camera import CameraConfig
from tests.conftest import SharedData

SMALL_VIDEO = "datasets/videos/example_01.mp4"  # 690x388, 41 frames, 10 fps


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("0", "camera"),
        ("12", "camera"),
        ("/dev/video2", "camera"),
        ("rtsp://user:pw@10.0.0.5:554/stream1", "stream"),
        ("RTSP://cam/stream", "stream"),
        ("http://127.0.0.1:8080/video.mjpg", "stream"),
        ("https://example.org/live.m3u8", "stream"),
        ("clips/street.mp4", "file"),
        ("images/", "folder"),
    ],
)
def test_source_kind(source: str, kind: str) -> None:
    assert source_kind(source) == kind


def test_existing_directory_is_a_folder_and_factory_builds_it(tmp_path: Path) -> None:
    assert source_kind(str(tmp_path)) == "folder"
    src = open_source(CameraConfig(name="c", source=str(tmp_path), read_fps=4))
    assert isinstance(src, FolderSource)
    assert src.fps == 4
    assert isinstance(open_source(CameraConfig(name="c", source="0")), CameraSource)
    assert isinstance(open_source(CameraConfig(name="c", source="a.mp4")), VideoSource)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/s1", "rtsp://***@10.0.0.5:554/s1"),
        ("http://user@host/x", "http://***@host/x"),
        ("rtsp://10.0.0.5/s1", "rtsp://10.0.0.5/s1"),
        ("/videos/a@b.mp4", "/videos/a@b.mp4"),
    ],
)
def test_redact_hides_credentials(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "s3cret" not in VideoSource(url).description


def test_video_file_reads_to_the_end(shared_data: SharedData) -> None:
    src = VideoSource(str(shared_data.path(SMALL_VIDEO)))
    src.open()
    assert src.finite and src.fps == pytest.approx(10.0)
    frames = 0
    with pytest.raises(SourceEnded):
        while True:
            img = src.read()
            assert img.shape == (388, 690, 3) and img.dtype == np.uint8
            frames += 1
    src.close()
    src.close()  # twice is fine
    assert frames == 41


def test_missing_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="file not found"):
        VideoSource(str(tmp_path / "nope.mp4")).open()


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 5000])
def test_corrupt_video_gives_a_clear_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    with pytest.raises(SourceCorrupt) as err:
        VideoSource(str(bad)).open()
    assert str(bad) in str(err.value)
    assert err.value.source == str(bad)


def test_deleted_file_is_reported_as_unavailable(shared_data: SharedData, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    shutil.copy(shared_data.path(SMALL_VIDEO), video)
    src = VideoSource(str(video))
    src.open()
    src.read()
    video.unlink()
    # The open descriptor would still decode; the source must notice the file is gone.
    with pytest.raises(SourceUnavailable, match="removed"):
        src.read()
    src.close()


def _write_images(folder: Path, names: list[str]) -> None:
    folder.mkdir(exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((20, 30, 3), 10 * (i + 1), dtype=np.uint8))


def test_folder_reads_sorted_and_skips_undecodable(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder, ["b.png", "a.png", "c.jpg"])  # values 10, 20, 30 (jpg ~lossy)
    (folder / "bad.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    src = FolderSource(str(folder))
    src.open()
    assert src.fps == 1.0  # default read_fps
    values = []
    with pytest.raises(SourceEnded):
        while True:
            values.append(int(src.read()[0, 0, 0]))
    assert values[:2] == [20, 10]  # a.png, b.png (bad.png skipped between them)
    assert abs(values[2] - 30) <= 2  # c.jpg
    assert src.skipped == 1


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="folder not found"):
        FolderSource(str(tmp_path / "missing")).open()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceUnavailable, match="no images"):
        FolderSource(str(empty)).open()
    (empty / "x.png").write_bytes(b"garbage")
    src = FolderSource(str(empty))
    src.open()
    with pytest.raises(SourceCorrupt, match="none of the images decodes"):
        src.read()


def test_missing_camera_device_is_unavailable() -> None:
    with pytest.raises(SourceUnavailable, match="device not found"):
        CameraSource("/dev/video987").open()
