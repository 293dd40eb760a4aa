"""``Explainer``: one request (model, method, target, budget) on one image -> an ``Explanation``.

The CLI and the node's ``explain`` command both come here; which models exist is injected as
lazy loaders (``ExplainModels``), so the CLI loads only what was asked and tests pass tiny fakes.
Blocking: the node calls it from its explanation worker thread, never on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from node.detect.yolox import DetectorSession
from node.explain.drise import explain_drise
from node.explain.errors import ExplainError, UnsupportedError
from node.explain.faces import Identities, face_regions, face_subject
from node.explain.fire import (
    GradientSession,
    class_index,
    fire_cam,
    fire_gradcam,
    fire_subject,
)
from node.explain.lime import explain_lime
from node.explain.maps import Explanation, FloatMap, Image
from node.explain.occlusion import explain_occlusion, region_drops
from node.explain.rise import explain_rise
from node.explain.subject import Budget, Subject, scores
from node.face.engine import FaceEngine
from node.fire.model import FireModel
from schemas.explain import ExplainMethod, ExplainModel

SUPPORT: dict[ExplainModel, tuple[ExplainMethod, ...]] = {
    "fire": ("cam", "gradcam", "rise", "occlusion", "lime"),
    "objects": ("drise", "occlusion"),
    "suspect": ("drise", "occlusion"),
    "faces": ("occlusion", "rise", "lime"),
}
# Forward passes per method when the request names none (timings: docs/explain.md).
DEFAULT_BUDGET: dict[ExplainMethod, int] = {
    "cam": 1, "gradcam": 1, "rise": 500, "drise": 300, "occlusion": 225, "lime": 300,
}  # fmt: skip
MAX_BUDGET = 4000
DETECTORS: tuple[ExplainModel, ...] = ("objects", "suspect")


@dataclass(frozen=True)
class ExplainRequest:
    model: ExplainModel
    method: ExplainMethod
    target: str | None = None  # class name
    box: Sequence[float] | None = None  # detectors: frame pixels
    identity: str | None = None  # faces
    budget: int | None = None
    deadline_s: float | None = None
    seed: int = 0


@dataclass
class ExplainModels:
    """Lazy sources of the models that can be explained; a missing one is ``None``/absent."""

    fire: Callable[[], FireModel] | None = None
    fire_gradcam: Callable[[], GradientSession] | None = None
    detectors: dict[str, Callable[[], DetectorSession]] = field(default_factory=dict)
    faces: Callable[[], tuple[FaceEngine, Identities]] | None = None


class BudgetError(ExplainError):
    """The request asks for more forward passes than this node allows."""


def check_supported(model: ExplainModel, method: ExplainMethod) -> None:
    methods = SUPPORT[model]
    if method in methods:
        return
    hint = {
        "drise": f"D-RISE explains one detected box; {model} is not a detector",
        "rise": f"{model} is a detector: use drise (RISE for one box)",
        "gradcam": f"no Grad-CAM graph is exported for {model}",
        "cam": f"CAM needs a classifier with a linear head on a feature map; {model} has none",
        "lime": f"LIME explains a single score; for {model} use {methods[0]}",
    }.get(method, "")
    raise UnsupportedError(f"{method} is not available for {model} ({hint}); {model} supports "
                           f"{', '.join(methods)}")  # fmt: skip


class Explainer:
    def __init__(
        self,
        models: ExplainModels,
        max_budget: int = MAX_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models = models
        self.max_budget = max_budget
        self._clock = clock

    def budget_for(self, req: ExplainRequest) -> Budget:
        masks = req.budget if req.budget is not None else DEFAULT_BUDGET[req.method]
        if masks > self.max_budget:
            raise BudgetError(f"budget {masks} is more than this node allows ({self.max_budget})")
        return Budget.within(max(1, masks), req.deadline_s, self._clock)

    def explain(self, image: Image, req: ExplainRequest) -> Explanation:
        """Blocking. Raises an ``ExplainError`` subclass for anything the asker can fix."""
        check_supported(req.model, req.method)
        budget = self.budget_for(req)
        start = time.perf_counter()
        if req.model == "fire":
            run = self._fire(image, req, budget)
        elif req.model in DETECTORS:
            run = self._detector(image, req, budget)
        else:
            run = self._faces(image, req, budget)
        return Explanation(
            method=req.method,
            model=req.model,
            target=run.subject.target,
            heat=run.subject.to_image(run.working),
            working=run.working,
            masks=run.passes,
            ms=round((time.perf_counter() - start) * 1000.0, 1),
            score=round(run.score, 4),
            regions=run.regions,
        )

    # -- per model ----------------------------------------------------------------------------

    def _fire(self, image: Image, req: ExplainRequest, budget: Budget) -> _Run:
        model = _need(self._models.fire, "fire")()
        first = model.predict(image)
        k = class_index(model.manifest.labels, req.target, first.scores)
        subject = fire_subject(model, image, k)
        if req.method == "cam":
            heat, score = fire_cam(model, image, k)
            return _Run(subject, heat, 1, score)
        if req.method == "gradcam":
            session = _need(self._models.fire_gradcam, "fire Grad-CAM graph")()
            heat, score = fire_gradcam(model, session, image, k)
            return _Run(subject, heat, 1, score)
        heat, used = _perturb(req, subject, budget)
        return _Run(subject, heat, used, float(first.scores[k]))

    def _detector(self, image: Image, req: ExplainRequest, budget: Budget) -> _Run:
        from node.explain.detector import detector_subject

        source = self._models.detectors.get(req.model)
        session = _need(source, req.model)()
        subject = detector_subject(session, req.model, image, req.target, req.box)
        base = _base_score(subject, budget)
        heat, used = _perturb(req, subject, budget)
        return _Run(subject, heat, used + 1, base)

    def _faces(self, image: Image, req: ExplainRequest, budget: Budget) -> _Run:
        engine, gallery = _need(self._models.faces, "faces")()
        subject = face_subject(engine, gallery, image, req.identity)
        regions: dict[str, float] = {}
        extra = 0
        if req.method == "occlusion":
            named = face_regions(subject.size[0])
            regions = region_drops(subject, named, budget)
            extra = len(named) + 1
        base = _base_score(subject, budget)
        heat, used = _perturb(req, subject, budget)
        return _Run(subject, heat, used + extra + 1, base, regions)


@dataclass(frozen=True, eq=False)
class _Run:
    """One method's result on one subject: the working map, the forward passes it cost, the
    explained score on the unperturbed image, named regions' drops (faces)."""

    subject: Subject
    working: FloatMap
    passes: int
    score: float
    regions: dict[str, float] = field(default_factory=dict)


T = TypeVar("T")


def _need(source: Callable[[], T] | None, what: str) -> Callable[[], T]:
    if source is None:
        raise UnsupportedError(f"the {what} model is not available here")
    return source


def _base_score(subject: Subject, budget: Budget) -> float:
    return float(scores(subject, [np.ones(subject.size, np.float32)], budget)[0])


def _perturb(req: ExplainRequest, subject: Subject, budget: Budget) -> tuple[FloatMap, int]:
    if req.method == "rise":
        return explain_rise(subject, budget, req.seed)
    if req.method == "drise":
        return explain_drise(subject, budget, req.seed)
    if req.method == "occlusion":
        return explain_occlusion(subject, budget)
    if req.method == "lime":
        return explain_lime(subject, budget, req.seed)
    raise UnsupportedError(f"{req.method} is not a perturbation method")
