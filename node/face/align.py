"""Similarity-transform alignment of a face to the 112x112 ArcFace 5-point template.

The transform (rotation, uniform scale, translation) is the least-squares fit of Umeyama (1991),
"Least-squares estimation of transformation parameters between two point patterns", in numpy so
it is testable without OpenCV's estimator; OpenCV only does the warp.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# insightface's arcface_dst for 112x112: image-left eye, image-right eye, nose, mouth corners
ARCFACE_112: F32 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def umeyama(src: npt.NDArray[np.floating], dst: npt.NDArray[np.floating]) -> F64:
    """2x3 similarity matrix M minimising sum |M @ [src, 1] - dst|^2 (no reflection)."""
    src64 = np.asarray(src, np.float64)
    dst64 = np.asarray(dst, np.float64)
    if src64.shape != dst64.shape or src64.ndim != 2 or src64.shape[1] != 2 or len(src64) < 2:
        raise ValueError(f"need two (N,2) point sets with N>=2, got {src64.shape} {dst64.shape}")
    mu_s, mu_d = src64.mean(0), dst64.mean(0)
    s_c, d_c = src64 - mu_s, dst64 - mu_d
    var_s = (s_c**2).sum() / len(src64)
    if var_s < 1e-12:
        raise ValueError("source points are degenerate (all equal)")
    cov = d_c.T @ s_c / len(src64)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0  # [why] forbid a reflection: a mirrored face is not the same alignment
    rot = u @ np.diag(d) @ vt
    scale = float((sig * d).sum() / var_s)
    out = np.empty((2, 3))
    out[:, :2] = scale * rot
    out[:, 2] = mu_d - scale * rot @ mu_s
    return out


def template(size: int = 112) -> F32:
    """The ArcFace template scaled to ``size`` (FaceNet-style embedders use 160)."""
    return (ARCFACE_112 * (size / 112.0)).astype(np.float32)


def align(
    image: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.floating], size: int = 112
) -> npt.NDArray[np.uint8]:
    """Warp the face with these 5 landmarks (frame pixels) to a ``size`` x ``size`` BGR crop."""
    m = umeyama(np.asarray(landmarks).reshape(5, 2), template(size))
    out = cv2.warpAffine(
        image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return np.asarray(out, dtype=np.uint8)
