"""A folder of still images, read in name order (for test sets and time-lapse drops)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from node.frame import Image
from node.sources.base import SourceCorrupt, SourceEnded, SourceUnavailable

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_FPS = 1.0


class FolderSource:
    """Images of a folder, sorted by name; the listing is taken at each ``open`` (each loop),
    so images dropped into the folder are picked up on the next pass. Undecodable images are
    skipped with a warning; a folder where none decodes is corrupt."""

    finite = True

    def __init__(self, folder: str, read_fps: float | None = None) -> None:
        self._folder = Path(folder)
        self.description = folder
        self._fps = read_fps or DEFAULT_FPS
        self._files: list[Path] = []
        self._next = 0
        self._decoded = 0
        self.skipped = 0

    @property
    def fps(self) -> float | None:
        return self._fps

    def open(self) -> None:
        if not self._folder.is_dir():
            raise SourceUnavailable(self.description, "folder not found")
        self._files = sorted(
            p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not self._files:
            raise SourceUnavailable(
                self.description, f"no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        self._next = 0
        self._decoded = 0

    def read(self) -> Image:
        while self._next < len(self._files):
            path = self._files[self._next]
            self._next += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                self._decoded += 1
                return np.asarray(image, dtype=np.uint8)
            self.skipped += 1
            log.warning("%s: skipping %s: not a decodable image", self.description, path.name)
        if self._decoded == 0:
            raise SourceCorrupt(self.description, "none of the images decodes")
        raise SourceEnded(self.description, f"end of folder after {self._decoded} images")

    def close(self) -> None:
        self._files = []
