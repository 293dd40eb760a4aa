"""Detect → align → assess → embed, for one image. Shared by the analytic, enrollment and eval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.face.align import align
from node.face.embed import Embedder
from node.face.quality import QualityLimits, QualityReport, assess
from node.face.yunet import FaceDetections, YuNetDetector

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FaceSample:
    """One detected face. ``embedding`` is None when quality said it is not worth embedding."""

    box: F32
    score: float
    landmarks: F32
    quality: QualityReport
    crop: npt.NDArray[np.uint8]  # aligned BGR crop at the embedder's size
    embedding: F32 | None


@dataclass
class FaceEngine:
    detector: YuNetDetector
    embedder: Embedder
    limits: QualityLimits

    def detect(self, image: npt.NDArray[np.uint8]) -> FaceDetections:
        return self.detector.detect(image)

    def analyse(
        self, image: npt.NDArray[np.uint8], embed_all: bool = False
    ) -> list[FaceSample]:
        """Every face in the image; only good-quality ones are embedded unless ``embed_all``."""
        det = self.detector.detect(image)
        size = self.embedder.contract.size
        crops = [align(image, det.landmarks[i], size) for i in range(len(det))]
        reports = [
            assess(det.boxes[i], det.landmarks[i], crops[i], self.limits) for i in range(len(det))
        ]
        todo = [i for i in range(len(det)) if embed_all or reports[i].ok]
        vecs = self.embedder.embed([crops[i] for i in todo])
        by_index = {i: vecs[k] for k, i in enumerate(todo)}
        return [
            FaceSample(
                box=det.boxes[i],
                score=float(det.scores[i]),
                landmarks=det.landmarks[i],
                quality=reports[i],
                crop=crops[i],
                embedding=by_index.get(i),
            )
            for i in range(len(det))
        ]
