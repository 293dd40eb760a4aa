"""Building the movement analytic: ``build`` (registry name ``movement``) loads the detector, the
pose model and the classifier, and ``MovementFactory`` makes one ``MovementAnalytic`` per camera.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from node.analytics.base import Analytic
from node.analytics.registry import AnalyticBuilder, BuildContext
from node.detect.yolox import DetectorSession
from node.inference.session import SessionOptions
from node.movement.analytic import MovementAnalytic
from node.movement.classifier import DEFAULT_SIDECAR, REGISTRY_NAME, MovementClassifier
from node.movement.escalation import Escalation, escalates_to_faces
from node.movement.events import EVENT_TYPE, IDENTIFIED_EVENT_TYPE
from node.movement.pose_estimator import PoseEstimator, PoseSession
from schemas.config import NodeConfig
from schemas.config.analytics import AnalyticConfig
from schemas.config.movement import MovementConfig


class MovementFactory:
    name = "movement"
    gated = False
    model_label: str | None

    def __init__(
        self,
        config: MovementConfig,
        detector: Callable[[], DetectorSession],
        pose: PoseEstimator,
        classifier: MovementClassifier,
        escalation: Escalation | None = None,
    ) -> None:
        self.config: AnalyticConfig = config
        self._cfg = config
        self._detector = detector
        self._pose = pose
        self._clf = classifier
        self._escalation = escalation
        self.end_after_s = config.end_after_s
        self.model_label = classifier.label

    def create(self, camera: str) -> Analytic:
        return MovementAnalytic(camera, self._cfg, self._detector, self._pose, self._clf,
                                self._escalation)

    def close(self) -> None:
        return None


def classifier_from(cfg: MovementConfig, models: Any = None) -> MovementClassifier:
    """The classifier a config asks for. With the node's model loader (``models``) and no
    ``classifier`` sidecar path in the config: the registry's ``movement_tcn`` (bundled,
    sha256-checked, swappable), checked against the bundled sidecar. Otherwise the file next to
    the sidecar, opened directly (evaluation, benchmarks, a custom classifier)."""
    if cfg.classifier or models is None:
        options = (SessionOptions(intra_op_threads=cfg.threads) if models is None
                   else models.session_options(REGISTRY_NAME, intra_op_threads=cfg.threads))
        return MovementClassifier.load(Path(cfg.classifier) if cfg.classifier else DEFAULT_SIDECAR,
                                       options)
    try:
        handle = models.load(REGISTRY_NAME, analytic="movement.classifier")
    except Exception as err:
        raise RuntimeError(
            f"movement classifier {REGISTRY_NAME!r} could not be loaded from the model registry "
            f"(models/registry.yaml, bundled file models/movement/movement_tcn.onnx): {err}"
        ) from err
    return MovementClassifier.from_handle(handle)


def _build(config: NodeConfig, ctx: BuildContext) -> MovementFactory:
    """Registry builder: detector, pose and classifier come from ``ctx.models`` (swappable
    handles; the classifier is the bundled registry entry ``movement_tcn``, unless the config names
    its own sidecar). The node's escalation (``ctx.services.escalation``), when it has one, is
    called after a fall or a fight to identify the people involved by their faces."""
    cfg: MovementConfig = config.analytics.movement
    if ctx.models is None:
        raise RuntimeError("the movement analytic needs a model loader (BuildContext.models)")
    det = ctx.models.load(cfg.detector, analytic="movement")
    pose = ctx.models.load(cfg.pose_model, analytic="movement.pose")

    def detector() -> DetectorSession:
        session: DetectorSession = det.session
        return session

    def pose_session() -> PoseSession:
        session: PoseSession = pose.session
        return session

    estimator = PoseEstimator(pose_session, pose.session.manifest.inputs[0].name,
                              cfg.pose_long_side)
    escalation = ctx.services.escalation if ctx.services is not None else None
    return MovementFactory(cfg, detector, estimator, classifier_from(cfg, ctx.models), escalation)


def event_types(config: NodeConfig, running: Collection[str]) -> tuple[str, ...]:
    """``movement``, and ``movement.identified`` where faces run too and escalation is on."""
    if escalates_to_faces(config, running):
        return (EVENT_TYPE, IDENTIFIED_EVENT_TYPE)
    return (EVENT_TYPE,)


build = AnalyticBuilder(_build, event_types)
