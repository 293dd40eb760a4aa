"""RISE: randomised input sampling (Petsiuk, Das and Saenko, BMVC 2018).

The working image is shown to the model under ``N`` random smooth masks: a coarse binary grid
(``cells`` x ``cells``, each cell kept with probability ``p``), upsampled bilinearly with a random
sub-cell shift, so the masks have soft edges at every position. A pixel's saliency is how much
higher the score is when the pixel is kept than when it is removed::

    sal(x) = E[score | M(x)] - E[score | 1 - M(x)]   (mask-weighted means over the N samples)

The paper's estimator is the first term alone (``sum_i s_i M_i(x) / (N p)``); subtracting the
second removes the map's offset and the noise of cells that happened to be kept more often, and
puts the peak at the same place. Forward passes only, so any ONNX model can be explained: the
detector version (D-RISE) is the same sampling with a detection-similarity score.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import numpy.typing as npt

from node.explain.maps import FloatMap
from node.explain.subject import Budget, Subject, scored_batches

KEEP_PROBABILITY = 0.5


def random_masks(
    count: int, size_hw: tuple[int, int], cells: int, p: float = KEEP_PROBABILITY, seed: int = 0
) -> Iterator[npt.NDArray[np.float32]]:
    """``count`` soft masks (h, w) in 0-1, reproducible for a given ``seed``."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"keep probability must be in (0, 1), got {p}")
    if cells < 1:
        raise ValueError(f"cells must be >= 1, got {cells}")
    h, w = size_hw
    rng = np.random.default_rng(seed)
    cell_h, cell_w = int(np.ceil(h / cells)), int(np.ceil(w / cells))
    up_h, up_w = (cells + 1) * cell_h, (cells + 1) * cell_w
    for _ in range(count):
        grid = (rng.random((cells + 1, cells + 1)) < p).astype(np.float32)
        big = cv2.resize(grid, (up_w, up_h), interpolation=cv2.INTER_LINEAR)
        dy, dx = int(rng.integers(0, cell_h)), int(rng.integers(0, cell_w))
        yield np.ascontiguousarray(big[dy : dy + h, dx : dx + w], dtype=np.float32)


def saliency_from_samples(
    subject: Subject, masks: Iterator[npt.NDArray[np.float32]], budget: Budget
) -> tuple[FloatMap, int]:
    """The kept-minus-removed estimator over every (mask, score) sample; and how many there were."""
    h, w = subject.size
    on_sum = np.zeros((h, w), np.float64)
    on_weight = np.zeros((h, w), np.float64)
    total_score, count = 0.0, 0
    for batch, s in scored_batches(subject, masks, budget):
        on_sum += np.tensordot(s.astype(np.float64), batch, axes=(0, 0))
        on_weight += batch.sum(axis=0, dtype=np.float64)
        total_score += float(s.sum(dtype=np.float64))
        count += batch.shape[0]
    off_weight = count - on_weight
    with np.errstate(divide="ignore", invalid="ignore"):
        kept = np.where(on_weight > 0, on_sum / on_weight, 0.0)
        removed = np.where(off_weight > 0, (total_score - on_sum) / off_weight, 0.0)
    return np.asarray(kept - removed, dtype=np.float32), count


def explain_rise(
    subject: Subject, budget: Budget, seed: int = 0, p: float = KEEP_PROBABILITY
) -> tuple[FloatMap, int]:
    """The RISE map of ``subject`` (working pixels) from ``budget.masks`` random masks."""
    masks = random_masks(budget.masks, subject.size, subject.mask_cells, p, seed)
    return saliency_from_samples(subject, masks, budget)
