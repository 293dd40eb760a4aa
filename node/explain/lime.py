"""LIME for images (Ribeiro, Singh and Guestrin, KDD 2016), written on numpy.

The working image is cut into superpixels (``node.explain.superpixels.slic``); each sample turns
a random half of them off (filled with the subject's ``fill``), the model scores it, and a
weighted ridge regression of score on the on/off vector, with LIME's image kernel
(``sqrt(exp(-d^2 / width^2))`` of the cosine distance to the unperturbed image, width 0.25), gives
one coefficient per superpixel: the map. This is the ``lime`` package's ``LimeImageExplainer``
with ``hide_color`` set to a constant colour and the ridge fitted in closed form instead of by
scikit-learn, so the node needs neither.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from node.explain.maps import FloatMap
from node.explain.subject import Budget, Subject, scores
from node.explain.superpixels import Labels, slic

KERNEL_WIDTH = 0.25
RIDGE_ALPHA = 1.0
SEGMENTS = 50


def kernel_weights(
    on: npt.NDArray[np.bool_], width: float = KERNEL_WIDTH
) -> npt.NDArray[np.float64]:
    """LIME's sample weights: cosine distance of each on/off row to all-on, through the kernel."""
    k = on.shape[1]
    kept = on.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = np.where(kept > 0, kept / (np.sqrt(kept) * np.sqrt(k)), 0.0)
    distance = 1.0 - cosine
    return np.asarray(np.sqrt(np.exp(-(distance**2) / width**2)), dtype=np.float64)


def weighted_ridge(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    alpha: float = RIDGE_ALPHA,
) -> npt.NDArray[np.float64]:
    """Coefficients (no intercept returned) of ``argmin sum w (y - b0 - x b)^2 + alpha |b|^2``."""
    wsum = weights.sum()
    xm = (weights[:, None] * x).sum(axis=0) / wsum
    ym = float((weights * y).sum() / wsum)
    xc, yc = x - xm, y - ym
    a = xc.T @ (weights[:, None] * xc) + alpha * np.eye(x.shape[1])
    b = xc.T @ (weights * yc)
    return np.asarray(np.linalg.solve(a, b), dtype=np.float64)


def _keeps(labels: Labels, on: npt.NDArray[np.bool_]) -> Iterator[npt.NDArray[np.float32]]:
    for row in on:
        yield row[labels].astype(np.float32)


def explain_lime(
    subject: Subject,
    budget: Budget,
    seed: int = 0,
    segments: int = SEGMENTS,
    labels: Labels | None = None,
) -> tuple[FloatMap, int]:
    """The LIME map (one coefficient per superpixel) from ``budget.masks`` samples; the first
    sample is the unperturbed image, as in LIME."""
    seg = slic(subject.working, segments) if labels is None else labels
    if seg.shape != subject.size:
        raise ValueError(f"labels {seg.shape} do not match the working image {subject.size}")
    k = int(seg.max()) + 1
    rng = np.random.default_rng(seed)
    on = rng.random((budget.masks, k)) < 0.5
    on[0] = True
    y = scores(subject, _keeps(seg, on), budget).astype(np.float64)
    coef = weighted_ridge(on.astype(np.float64), y, kernel_weights(on))
    return np.asarray(coef[seg], dtype=np.float32), budget.masks
