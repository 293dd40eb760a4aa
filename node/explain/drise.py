"""D-RISE: RISE for one detected box (Petsiuk et al., CVPR 2021).

A detector has no single score to explain, so each masked image is scored by how well its best
proposal still matches the target detection::

    s(masked) = max_j IoU(target box, box_j) * score_j[target class]

where ``score_j`` is the detector's per-class score (objectness x class probability for YOLOX).
The paper multiplies IoU, objectness and the cosine of the class-probability vectors; with
YOLOX's scores that is the same product up to the norm of the class vector, which for a confident
proposal is close to 1. The map is then RISE's kept-minus-removed estimator over the masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou
from node.explain.maps import FloatMap
from node.explain.rise import KEEP_PROBABILITY, explain_rise
from node.explain.subject import Budget, Subject


@dataclass(frozen=True, eq=False)
class DetectionTarget:
    """The detection to explain: its box (xyxy, in the detector's input pixels) and class."""

    box: npt.NDArray[np.float32]
    class_index: int
    label: str

    def __post_init__(self) -> None:
        if self.box.shape != (4,):
            raise ValueError(f"box must be (4,) xyxy, got shape {self.box.shape}")


def detection_similarity(
    boxes: npt.NDArray[np.float32], class_scores: npt.NDArray[np.float32], target: DetectionTarget
) -> float:
    """``max_j IoU(target, box_j) * class_scores[j, target class]``; 0 with no proposals."""
    if boxes.shape[0] == 0:
        return 0.0
    if class_scores.shape != (boxes.shape[0], class_scores.shape[1]) or not (
        0 <= target.class_index < class_scores.shape[1]
    ):
        raise ValueError(
            f"class scores {class_scores.shape} do not fit {boxes.shape[0]} boxes and class "
            f"{target.class_index}"
        )
    ious = box_iou(target.box[None].astype(np.float32), boxes.astype(np.float32))[0]
    return float(np.max(ious * class_scores[:, target.class_index]))


def explain_drise(
    subject: Subject, budget: Budget, seed: int = 0, p: float = KEEP_PROBABILITY
) -> tuple[FloatMap, int]:
    """The D-RISE map: ``subject.score`` must be ``detection_similarity`` of its target."""
    return explain_rise(subject, budget, seed, p)
