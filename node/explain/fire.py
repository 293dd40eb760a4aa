"""The fire/smoke classifier as an explanation subject, and its CAM and Grad-CAM maps.

The working image is the frame squashed to the model's square input exactly as
``node.fire.preprocess`` does (INTER_AREA), so a perturbed working image goes through the same
pre-processing as a frame and a working map scales back onto the frame per axis. Removed pixels
take the normalisation mean (zero after normalising: the least informative input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from node.explain.cam import explain_cam
from node.explain.errors import TargetError
from node.explain.gradcam import explain_gradcam, one_hot
from node.explain.maps import FloatMap, Image, resize_map
from node.explain.subject import Subject
from node.fire.model import FireModel

FIRE_BATCH = 16
FIRE_MASK_CELLS = 8
SATURATION = 1e-7


class GradientSession(Protocol):
    """A session on the Grad-CAM graph (``node.inference.ModelSession``): outputs in the
    manifest's order, named in ``output_names``."""

    output_names: list[str]

    def run(self, feeds: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]: ...


def class_index(labels: Sequence[str], target: str | None, scores: npt.NDArray[np.float32]) -> int:
    """The class to explain: ``target`` by name, else the highest-scoring one."""
    if target is None:
        return int(np.argmax(scores))
    if target not in labels:
        raise TargetError(f"unknown class {target!r}; this model's classes: {list(labels)}")
    return list(labels).index(target)


def working_image(model: FireModel, image: Image) -> Image:
    s = model.manifest.input_size
    return np.asarray(cv2.resize(image, (s, s), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def logit(p: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The inverse of the sigmoid, clipped where float32 saturates."""
    q = np.clip(p.astype(np.float64), SATURATION, 1.0 - SATURATION)
    return np.asarray(np.log(q / (1.0 - q)), dtype=np.float32)


def fire_subject(model: FireModel, image: Image, k: int, logits: bool = True) -> Subject:
    """Score = class ``k``'s logit (``logits``) or its sigmoid score.

    Perturbation methods explain the logit, like CAM and Grad-CAM: on a frame the model is sure
    of (scores of 0.99 and more are common) the sigmoid is flat, and masks that halve the
    evidence would barely move it. Deletion/insertion curves use the score (probabilities, as
    in the RISE paper)."""
    m = model.manifest
    h, w = image.shape[:2]
    mean_bgr = (m.mean[2] * 255.0, m.mean[1] * 255.0, m.mean[0] * 255.0)

    def score(batch: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        x = np.concatenate([model.input_for(img) for img in batch])
        scores, _ = model.backend.run(x)
        p = np.asarray(scores[:, k], dtype=np.float32)
        return logit(p) if logits else p

    return Subject(
        model="fire",
        target=m.labels[k],
        working=working_image(model, image),
        fill=mean_bgr,
        score=score,
        to_image=lambda heat: resize_map(heat, w, h),
        batch=FIRE_BATCH,
        mask_cells=FIRE_MASK_CELLS,
    )


def fire_cam(model: FireModel, image: Image, k: int) -> tuple[FloatMap, float]:
    """The classifier-head CAM of class ``k`` (working pixels) and the class score."""
    out = model.predict(image)
    s = model.manifest.input_size
    cam = explain_cam(out.features, model.head_weight[k], float(model.head_bias[k]), (s, s))
    return cam, float(out.scores[k])


def fire_gradcam(
    model: FireModel, session: GradientSession, image: Image, k: int
) -> tuple[FloatMap, float]:
    """Grad-CAM of class ``k`` through the exported gradient graph (working pixels), and the
    score that graph gives (the same model, so the same score as the classifier's)."""
    labels = model.manifest.labels
    feeds = {"input": model.input_for(image), "class_weights": one_hot(k, len(labels))}
    outputs = dict(zip(session.output_names, session.run(feeds), strict=True))
    s = model.manifest.input_size
    heat = explain_gradcam(
        np.asarray(outputs["activations"][0], np.float32),
        np.asarray(outputs["gradients"][0], np.float32),
        (s, s),
    )
    return heat, float(outputs["scores"][0][k])
