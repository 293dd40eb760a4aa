"""Class activation maps (CAM) from the classifier's last feature map, and a box from them.

The classifier is ``sigmoid(w_k . mean_xy(F) + b_k)``, so ``cam_k(x, y) = w_k . F(x, y) + b_k`` is
exactly the per-location contribution to the class logit (Zhou et al., 2016): no gradients, one
small matrix product per frame.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

FloatMap = npt.NDArray[np.float32]
CAM_WORK_SIDE = 128  # the CAM is upsampled to at most this size before thresholding


def class_activation_map(
    features: npt.NDArray[np.float32], weight: npt.NDArray[np.float32], bias: float
) -> FloatMap:
    """``features`` (C, h, w) and one class's head ``weight`` (C,) -> CAM (h, w) in logit units."""
    if features.ndim != 3:
        raise ValueError(f"features must be (C, h, w), got shape {features.shape}")
    if weight.shape != (features.shape[0],):
        raise ValueError(
            f"weight must be ({features.shape[0]},) to match the features, got {weight.shape}"
        )
    cam = np.tensordot(weight.astype(np.float32), features.astype(np.float32), axes=(0, 0))
    return np.asarray(cam + np.float32(bias), dtype=np.float32)


def normalize_cam(cam: FloatMap) -> FloatMap:
    """Scale to 0-1 (min -> 0, max -> 1); a flat map becomes all zeros."""
    lo, hi = float(cam.min()), float(cam.max())
    if hi - lo < 1e-12:
        return np.zeros_like(cam, dtype=np.float32)
    return np.asarray((cam - lo) / (hi - lo), dtype=np.float32)


def upsample(cam: FloatMap, width: int, height: int) -> FloatMap:
    """Bilinear resize with cell centres aligned (cv2's convention)."""
    return np.asarray(
        cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.float32
    )


def peak_region_box(
    mask: npt.NDArray[np.bool_], peak: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Bounding box (x1, y1, x2, y2; exclusive ends) of the 8-connected region of ``mask`` holding
    ``peak`` (row, col)."""
    if not mask[peak]:
        raise ValueError(f"peak {peak} is not inside the mask")
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    ys, xs = np.nonzero(labels == labels[peak])
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


CamRegion = Literal["peak", "largest", "union"]
CAM_REGIONS: tuple[CamRegion, ...] = ("peak", "largest", "union")


def largest_region_box(mask: npt.NDArray[np.bool_]) -> tuple[int, int, int, int]:
    """Bounding box (exclusive ends) of the largest 8-connected region of a non-empty ``mask``."""
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n < 2:
        raise ValueError("mask is empty")
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[k, :4])
    return x, y, x + w, y + h


def union_box(mask: npt.NDArray[np.bool_]) -> tuple[int, int, int, int]:
    """Bounding box (exclusive ends) of every pixel of a non-empty ``mask``."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("mask is empty")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def cam_box(
    cam: FloatMap,
    frame_width: int,
    frame_height: int,
    threshold: float = 0.5,
    region: CamRegion = "peak",
) -> npt.NDArray[np.float32]:
    """Box (xyxy, frame pixels) around the CAM region above ``threshold`` x peak.

    The normalised CAM is upsampled to a working grid with the frame's aspect (the model input is
    the whole frame squashed, so the mapping back is a plain scale per axis), thresholded at
    ``threshold`` (fraction of the peak, after min-max normalisation) and boxed: ``peak`` boxes the
    connected region holding the peak (a second, weaker fire elsewhere does not stretch the box),
    ``largest`` the largest region, ``union`` every region.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if region not in CAM_REGIONS:
        raise ValueError(f"region must be one of {CAM_REGIONS}, got {region!r}")
    if frame_width <= 0 or frame_height <= 0:
        raise ValueError(f"frame size must be positive, got {frame_width}x{frame_height}")
    scale = CAM_WORK_SIDE / max(frame_width, frame_height)
    gw = max(1, round(frame_width * scale))
    gh = max(1, round(frame_height * scale))
    grid = normalize_cam(upsample(normalize_cam(cam), gw, gh))
    peak = np.unravel_index(int(np.argmax(grid)), grid.shape)
    mask = grid >= threshold
    if not mask.any():  # a flat map points nowhere: box the whole frame rather than fail
        return np.array([0.0, 0.0, frame_width, frame_height], dtype=np.float32)
    if region == "peak":
        x1, y1, x2, y2 = peak_region_box(mask, (int(peak[0]), int(peak[1])))
    elif region == "largest":
        x1, y1, x2, y2 = largest_region_box(mask)
    else:
        x1, y1, x2, y2 = union_box(mask)
    sx, sy = frame_width / gw, frame_height / gh
    return np.array([x1 * sx, y1 * sy, x2 * sx, y2 * sy], dtype=np.float32)


def heatmap_overlay(
    image_bgr: npt.NDArray[np.uint8],
    cam: FloatMap,
    alpha: float = 0.45,
    box: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.uint8]:
    """The frame with the normalised CAM blended in as a JET heatmap (and the box drawn)."""
    h, w = image_bgr.shape[:2]
    heat = (normalize_cam(upsample(normalize_cam(cam), w, h)) * 255).astype(np.uint8)
    colour = cv2.applyColorMap(heat, cv2.COLORMAP_JET)
    out = cv2.addWeighted(image_bgr, 1.0 - alpha, colour, alpha, 0.0)
    if box is not None:
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255), 2)
    return np.asarray(out, dtype=np.uint8)
