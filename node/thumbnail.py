"""The motion thumbnail: a small, grey, blurred copy of a frame.

The capture thread makes it (off the event loop, ``node.sources.capture``) and the motion gate
compares it (``node.pipeline.motion``); it lives here so neither reaches into the other.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from node.frame import Image

Grey = npt.NDArray[np.uint8]

THUMB_WIDTH = 160


def grey_thumbnail(image: Image, width: int = THUMB_WIDTH) -> Grey:
    """Downscale (area average), convert to grey and blur: sensor noise must not count as motion."""
    h, w = image.shape[:2]
    scale = width / float(w)
    size = (width, max(1, round(h * scale))) if w > width else (w, h)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if w > width else image
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.GaussianBlur(grey, (5, 5), 0), dtype=np.uint8)
