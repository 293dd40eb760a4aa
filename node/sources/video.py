"""Video files and network streams (RTSP, HTTP, MJPEG) through OpenCV's FFmpeg backend."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import cv2

from node.frame import Image
from node.sources.base import SourceCorrupt, SourceEnded, SourceUnavailable, redact

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")

# FFmpeg options for live streams: TCP transport (UDP loses packets and smears frames on busy
# networks) and no input buffering, so the frame we read is the newest one the camera sent.
_LOW_LATENCY = "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay|max_delay;500000"
_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# OpenCV reads the options from the environment at open time, process-wide: set and restore
# them under a lock so a file opened by another camera's thread never sees the stream options.
_ENV_LOCK = threading.Lock()

OPEN_TIMEOUT_MS = 10_000
READ_TIMEOUT_MS = 10_000


def is_stream(source: str) -> bool:
    return source.lower().startswith(STREAM_SCHEMES)


class VideoSource:
    """A video file (finite, seekable) or a network stream (live, may drop)."""

    def __init__(self, source: str) -> None:
        self._source = source
        self.finite = not is_stream(source)
        self.description = redact(source)
        self._cap: Any = None
        self._fps: float | None = None
        self._frames_read = 0

    @property
    def fps(self) -> float | None:
        return self._fps

    def open(self) -> None:
        self.close()
        if self.finite:
            self._check_file()
        cap = self._open_capture()
        if not cap.isOpened():
            cap.release()
            if self.finite:
                # The file exists and is readable (checked above), so FFmpeg rejected its bytes.
                raise SourceCorrupt(
                    self.description, "not a decodable video (corrupt, truncated or unsupported)"
                )
            raise SourceUnavailable(self.description, "stream cannot be opened")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        # FFmpeg reports 0, NaN or absurd rates for some files and most streams.
        self._fps = fps if 0.5 <= fps <= 240.0 else None
        self._cap = cap
        self._frames_read = 0

    def read(self) -> Image:
        if self._cap is None:
            raise SourceUnavailable(self.description, "read before open")
        if self.finite and not Path(self._source).exists():
            # Linux keeps a deleted file readable until it is closed: without this stat (a
            # microsecond) the camera would look alive until the end of the file.
            raise SourceUnavailable(self.description, "file was removed")
        ok, image = self._cap.read()
        if ok and image is not None:
            self._frames_read += 1
            return _as_bgr(image)
        if not self.finite:
            raise SourceUnavailable(self.description, "stream closed or timed out")
        if self._frames_read == 0:
            raise SourceCorrupt(self.description, "opened but not a single frame decodes")
        raise SourceEnded(self.description, f"end of file after {self._frames_read} frames")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _check_file(self) -> None:
        path = Path(self._source)
        if not path.exists():
            raise SourceUnavailable(self.description, "file not found")
        if not path.is_file():
            raise SourceUnavailable(self.description, "not a regular file")
        if not os.access(path, os.R_OK):
            raise SourceUnavailable(self.description, "file not readable (permissions)")
        if path.stat().st_size == 0:
            raise SourceCorrupt(self.description, "file is empty")

    def _open_capture(self) -> Any:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS]
        if self.finite:
            return cv2.VideoCapture(self._source, cv2.CAP_FFMPEG, params)
        params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
        with _ENV_LOCK:
            user_set = _ENV in os.environ  # an operator's own options win
            if not user_set:
                os.environ[_ENV] = _LOW_LATENCY
            try:
                cap = cv2.VideoCapture(self._source, cv2.CAP_FFMPEG, params)
            finally:
                if not user_set:
                    del os.environ[_ENV]
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cap


def _as_bgr(image: Any) -> Image:
    """FFmpeg hands grey or BGRA frames for some codecs; the pipeline wants HxWx3 uint8."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    out: Image = image
    return out
