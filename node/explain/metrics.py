"""How good is an explanation: the pointing game and the deletion / insertion curves.

* Pointing game (Zhang et al., 2016): is the map's peak inside a labelled box of the explained
  class? Strict: no tolerance margin around the box.
* Deletion and insertion (Petsiuk et al., 2018): remove the working pixels in the order of the map
  (most salient first) and record the score, in ``steps`` equal slices of the pixels; deletion
  fills them with the subject's ``fill``, insertion starts from a blurred image and puts them
  back. The area under each curve (x from 0 to 1, trapezoids): a faithful map makes the score
  fall fast (low deletion AUC) and rise fast (high insertion AUC).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from node.explain.maps import FloatMap
from node.explain.subject import Budget, Subject, scores

CURVE_STEPS = 32
BLUR_FRACTION = 1 / 20  # insertion's start: Gaussian blur, sigma = this x the working side


def pointing_hit(peak: tuple[int, int], boxes: Sequence[Sequence[float]]) -> bool:
    """Is ``(x, y)`` inside one of ``boxes`` (xyxy, same pixels; edges count as inside)?"""
    x, y = peak
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)


@dataclass(frozen=True)
class Curves:
    deletion: npt.NDArray[np.float32]  # (steps + 1,) scores
    insertion: npt.NDArray[np.float32]

    @property
    def deletion_auc(self) -> float:
        return auc(self.deletion)

    @property
    def insertion_auc(self) -> float:
        return auc(self.insertion)


def auc(curve: npt.NDArray[np.float32]) -> float:
    """Trapezoid area under ``curve`` sampled at equal steps over x in [0, 1]."""
    if len(curve) < 2:
        raise ValueError("a curve needs at least two points")
    c = curve.astype(np.float64)
    return float((c.sum() - (c[0] + c[-1]) / 2.0) / (len(c) - 1))


def _orders(
    heat: FloatMap, steps: int, valid: npt.NDArray[np.bool_] | None
) -> Iterator[npt.NDArray[np.float32]]:
    """Masks (1 = the pixel is among the top ``t / steps`` of the map) for t = 0..steps."""
    h, w = heat.shape
    flat = heat.ravel().astype(np.float64)
    pool = np.arange(h * w) if valid is None else np.flatnonzero(valid.ravel())
    order = pool[np.argsort(-flat[pool], kind="stable")]
    for t in range(steps + 1):
        top = np.zeros(h * w, np.float32)
        top[order[: round(t / steps * len(order))]] = 1.0
        yield top.reshape(h, w)


def deletion_insertion(
    subject: Subject,
    heat: FloatMap,
    budget: Budget | None = None,
    steps: int = CURVE_STEPS,
    valid: npt.NDArray[np.bool_] | None = None,
) -> Curves:
    """Both curves of the working map ``heat``; ``valid`` limits them to the pixels that are
    the image (a detector's letterbox padding is not)."""
    if heat.shape != subject.size:
        raise ValueError(f"map {heat.shape} does not match the working image {subject.size}")
    b = budget or Budget(2 * (steps + 1))
    deletion = scores(subject, (1.0 - m for m in _orders(heat, steps, valid)), b)
    sigma = max(1.0, BLUR_FRACTION * max(subject.size))
    blurred = np.asarray(cv2.GaussianBlur(subject.working, (0, 0), sigma), dtype=np.uint8)
    start = dataclasses.replace(subject, fill=blurred)
    insertion = scores(start, _orders(heat, steps, valid), b)
    return Curves(deletion, insertion)
