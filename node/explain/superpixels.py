"""SLIC superpixels (Achanta et al., TPAMI 2012) in numpy and OpenCV, for LIME.

Written here rather than taken from scikit-image so the node's runtime dependencies stay numpy,
OpenCV and ONNX Runtime. k-means in (L, a, b, x, y) where each centre only searches a 2S x 2S
window (S = the grid step), then connected components, with fragments smaller than a quarter of a
cell merged into a neighbour so each segment is one piece.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Labels = npt.NDArray[np.int32]


def slic(
    image_bgr: npt.NDArray[np.uint8],
    segments: int = 50,
    compactness: float = 10.0,
    iterations: int = 8,
) -> Labels:
    """Labels 0..K-1 (K close to ``segments``) of an HxWx3 uint8 BGR image."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f"expected HxWx3 uint8 BGR, got {image_bgr.shape} {image_bgr.dtype}")
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    h, w = image_bgr.shape[:2]
    lab = np.asarray(
        cv2.cvtColor(image_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab), dtype=np.float32
    )
    step = max(1.0, float(np.sqrt(h * w / segments)))
    ys = np.arange(step / 2, h, step)
    xs = np.arange(step / 2, w, step)
    cy, cx = (a.ravel() for a in np.meshgrid(ys, xs, indexing="ij"))
    centres = np.column_stack([cy, cx, lab[cy.astype(int), cx.astype(int)]]).astype(np.float64)
    spatial = (compactness / step) ** 2
    yy, xx = np.mgrid[0:h, 0:w]
    labels = np.zeros((h, w), np.int32)
    radius = int(np.ceil(step))
    for _ in range(iterations):
        best = np.full((h, w), np.inf)
        for k, (y, x, *colour) in enumerate(centres):
            y0, y1 = max(0, int(y) - radius), min(h, int(y) + radius + 1)
            x0, x1 = max(0, int(x) - radius), min(w, int(x) + radius + 1)
            d_lab = ((lab[y0:y1, x0:x1] - np.asarray(colour)) ** 2).sum(axis=2)
            d_xy = (yy[y0:y1, x0:x1] - y) ** 2 + (xx[y0:y1, x0:x1] - x) ** 2
            d = d_lab + spatial * d_xy
            window = best[y0:y1, x0:x1]
            closer = d < window
            window[closer] = d[closer]
            labels[y0:y1, x0:x1][closer] = k
        centres = _recentre(labels, lab, yy, xx, centres)
    return _connected(labels, min_size=max(1, int(step * step / 4)))


def _recentre(labels: Labels, lab: npt.NDArray[np.float32], yy: npt.NDArray[np.int_],
              xx: npt.NDArray[np.int_], old: npt.NDArray[np.float64]
              ) -> npt.NDArray[np.float64]:  # fmt: skip
    n = len(old)
    flat = labels.ravel()
    count = np.bincount(flat, minlength=n).astype(np.float64)
    out = old.copy()
    has = count > 0
    for j, channel in enumerate((yy, xx, lab[..., 0], lab[..., 1], lab[..., 2])):
        sums = np.bincount(flat, weights=np.asarray(channel, np.float64).ravel(), minlength=n)
        out[has, j] = sums[has] / count[has]
    return out


def _connected(labels: Labels, min_size: int) -> Labels:
    """One label per connected piece; pieces under ``min_size`` pixels join the piece left of
    (or above) their first pixel."""
    h, w = labels.shape
    pieces = np.full((h, w), -1, np.int32)
    next_id = 0
    for k in np.unique(labels):
        n, comp = cv2.connectedComponents((labels == k).astype(np.uint8), connectivity=4)
        for c in range(1, n):
            pieces[comp == c] = next_id
            next_id += 1
    sizes = np.bincount(pieces.ravel(), minlength=next_id)
    for piece in np.flatnonzero(sizes < min_size):
        ys, xs = np.nonzero(pieces == piece)
        if len(ys) == 0 or len(ys) == h * w:
            continue
        y, x = int(ys[0]), int(xs[0])
        neighbour = _neighbour(pieces, y, x, int(piece))
        if neighbour is not None:
            pieces[pieces == piece] = neighbour
    _, compact = np.unique(pieces, return_inverse=True)
    return compact.reshape(h, w).astype(np.int32)


def _neighbour(pieces: Labels, y: int, x: int, own: int) -> int | None:
    h, w = pieces.shape
    for dy, dx in ((0, -1), (-1, 0), (0, 1), (1, 0)):
        ny, nx = y + dy, x + dx
        if 0 <= ny < h and 0 <= nx < w and pieces[ny, nx] != own:
            return int(pieces[ny, nx])
    ys, xs = np.nonzero(pieces != own)
    return int(pieces[ys[0], xs[0]]) if len(ys) else None
