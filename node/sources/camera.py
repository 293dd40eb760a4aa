"""Local cameras through V4L2: an index (``0``) or a device path (``/dev/video0``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2

from node.frame import Image
from node.sources.base import SourceUnavailable
from node.sources.video import _as_bgr


class CameraSource:
    """A live V4L2 device. Never ends: a failed read means the device went away."""

    finite = False

    def __init__(self, device: int | str) -> None:
        self._device = device
        self.description = f"/dev/video{device}" if isinstance(device, int) else device
        self._cap: Any = None

    @property
    def fps(self) -> float | None:
        return None  # the device paces itself

    def open(self) -> None:
        self.close()
        if isinstance(self._device, str) and not Path(self._device).exists():
            raise SourceUnavailable(self.description, "device not found")
        cap = cv2.VideoCapture(self._device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise SourceUnavailable(self.description, "camera cannot be opened (busy or absent)")
        # One buffered frame: the driver otherwise queues several and we would read stale ones.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def read(self) -> Image:
        if self._cap is None:
            raise SourceUnavailable(self.description, "read before open")
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceUnavailable(self.description, "camera stopped delivering frames")
        return _as_bgr(image)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
