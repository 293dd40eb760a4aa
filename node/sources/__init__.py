"""Frame sources (file, stream, V4L2, image folder) and the latest-frame capture thread."""

from node.sources.base import (
    FrameSource,
    SourceCorrupt,
    SourceEnded,
    SourceError,
    SourceUnavailable,
)
from node.sources.capture import CapturedFrame, LatestFrameCapture, SourceStatus
from node.sources.factory import open_source

__all__ = [
    "CapturedFrame",
    "FrameSource",
    "LatestFrameCapture",
    "SourceCorrupt",
    "SourceEnded",
    "SourceError",
    "SourceStatus",
    "SourceUnavailable",
    "open_source",
]
