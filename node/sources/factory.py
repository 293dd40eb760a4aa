"""Decide the kind of source from the configured string."""

from __future__ import annotations

import re
from pathlib import Path

from node.sources.base import FrameSource
from node.sources.camera import CameraSource
from node.sources.folder import FolderSource
from node.sources.video import VideoSource, is_stream
from schemas.config.camera import CameraConfig

_INDEX = re.compile(r"^\d+$")
_DEVICE = re.compile(r"^/dev/video\d+$")


def source_kind(source: str) -> str:
    """``camera``, ``stream``, ``folder`` or ``file``.

    A path that does not exist yet is a file unless it ends with ``/``; the capture calls the
    factory again at every reconnect, so a folder created later is recognised then.
    """
    if _INDEX.match(source) or _DEVICE.match(source):
        return "camera"
    if is_stream(source):
        return "stream"
    if source.endswith("/") or Path(source).is_dir():
        return "folder"
    return "file"


def open_source(config: CameraConfig) -> FrameSource:
    """Build (not open) the source for a camera; the capture thread opens it."""
    kind = source_kind(config.source)
    if kind == "camera":
        device: int | str = int(config.source) if _INDEX.match(config.source) else config.source
        return CameraSource(device)
    if kind == "folder":
        return FolderSource(config.source, config.read_fps)
    return VideoSource(config.source)
