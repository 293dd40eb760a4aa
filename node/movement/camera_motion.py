"""Camera-motion compensation: how far the picture panned between two analysed frames.

A camera that pans to follow a runner makes them look slow in the image. The background tells
the pan: corners tracked (pyramidal Lucas-Kanade) from the previous frame to this one, outside
the people's boxes, move together by the pan; their median displacement is it. Adding up the
displacements gives the offset of this frame against the first, and subtracting it from boxes
and keypoints puts tracks in *stabilised* coordinates, where speeds are ground speeds again --
the same as the fixed synthetic cameras the classifier learnt from. Only translation is
modelled (pan and tilt of a distant background); zoom and rotation are not.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

WIDTH = 320  # analysis width: enough corners, ~2 ms per frame
MIN_POINTS = 12  # fewer background corners than this: no estimate (the offset stays)
MAX_CORNERS = 150


class PanEstimator:
    """Feed every analysed frame (BGR) with the people's boxes; ``offset`` is the cumulative
    image shift of the background since the first frame, in frame pixels ``(dx, dy)``."""

    def __init__(self, width: int = WIDTH) -> None:
        self._width = width
        self._prev: npt.NDArray[np.uint8] | None = None
        self._prev_mask: npt.NDArray[np.uint8] | None = None
        self.offset = np.zeros(2, np.float32)
        self.last_shift = np.zeros(2, np.float32)
        self.last_points = 0

    def reset(self) -> None:
        self._prev = None
        self._prev_mask = None
        self.offset = np.zeros(2, np.float32)

    def update(self, image: npt.NDArray[np.uint8], people: npt.NDArray[np.float32]
               ) -> npt.NDArray[np.float32]:
        """Shift of the background from the previous frame to ``image``; ``people`` (n, 4)
        xyxy boxes are excluded (they move on their own). Returns the new offset."""
        h, w = image.shape[:2]
        # skip rows/columns first (a 1080p frame would cost ~30 ms to area-resize whole)
        step = max(1, w // (2 * self._width))
        coarse = image[::step, ::step]
        scale = self._width / max(w, 1)
        small = cv2.resize(coarse, (self._width, max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
        grey = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8)
        mask = background_mask(grey.shape, people * scale)
        shift = np.zeros(2, np.float32)
        self.last_points = 0
        if self._prev is not None and self._prev.shape == grey.shape:
            shift, self.last_points = median_shift(self._prev, grey, self._prev_mask, mask)
            shift = shift / scale
        self.offset = (self.offset + shift).astype(np.float32)
        self.last_shift = shift.astype(np.float32)
        self._prev, self._prev_mask = grey, mask
        return self.offset


def background_mask(shape: tuple[int, ...], boxes: npt.NDArray[np.float32]
                    ) -> npt.NDArray[np.uint8]:
    """255 outside the (slightly grown) boxes, 0 inside."""
    mask = np.full(shape[:2], 255, np.uint8)
    for x1, y1, x2, y2 in np.asarray(boxes, np.float32).reshape(-1, 4):
        gx, gy = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        mask[max(0, int(y1 - gy)):max(0, int(y2 + gy)) + 1,
             max(0, int(x1 - gx)):max(0, int(x2 + gx)) + 1] = 0
    return mask


def median_shift(prev: npt.NDArray[np.uint8], cur: npt.NDArray[np.uint8],
                 prev_mask: npt.NDArray[np.uint8] | None, cur_mask: npt.NDArray[np.uint8]
                 ) -> tuple[npt.NDArray[np.float32], int]:
    """Median displacement of background corners from ``prev`` to ``cur`` (pixels of these
    images) and how many corners agreed; (0, 0) and the count when too few were found."""
    pts = cv2.goodFeaturesToTrack(prev, MAX_CORNERS, 0.01, 6, mask=prev_mask)
    if pts is None or len(pts) < MIN_POINTS:
        return np.zeros(2, np.float32), 0 if pts is None else len(pts)
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(
        prev, cur, pts, None, winSize=(15, 15), maxLevel=3  # type: ignore[call-overload]
    )
    good = np.asarray(status).reshape(-1) == 1
    if nxt is None or good.sum() < MIN_POINTS:
        return np.zeros(2, np.float32), int(good.sum())
    p0, p1 = pts.reshape(-1, 2)[good], np.asarray(nxt).reshape(-1, 2)[good]
    # a corner that lands on a person in this frame moved with them, not with the camera
    xi = np.clip(p1[:, 0].round().astype(int), 0, cur.shape[1] - 1)
    yi = np.clip(p1[:, 1].round().astype(int), 0, cur.shape[0] - 1)
    keep = cur_mask[yi, xi] > 0
    if keep.sum() < MIN_POINTS:
        return np.zeros(2, np.float32), int(keep.sum())
    d = p1[keep] - p0[keep]
    return np.median(d, axis=0).astype(np.float32), int(keep.sum())
