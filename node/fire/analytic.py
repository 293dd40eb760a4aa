"""The ``fire`` analytic: classifier scores -> k-of-n alarms -> ``fire`` / ``smoke`` observations.

Scene-level: each class has one constant observation key per camera, so one real fire is one
``new`` ... ``end`` event however many frames it spans. The box is the CAM region of the class, the
overlay is the frame with the CAM heatmap (for snapshots).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from node.analytics.base import AnalysisResult, Analytic, Observation
from node.analytics.registry import AnalyticBuilder, BuildContext
from node.fire.cam import cam_box, heatmap_overlay
from node.fire.events import EVENT_TYPES, SEVERITY
from node.fire.model import (
    DEFAULT_MANIFEST,
    FireManifest,
    FireModel,
    ModelFileError,
    OrtFireBackend,
)
from node.fire.smoothing import KOfNAlarm, SmoothingParams
from node.frame import Frame
from node.inference.session import SessionOptions
from schemas.attributes import FireAttributes
from schemas.config import NodeConfig
from schemas.config.analytics import AnalyticConfig
from schemas.config.fire import FireConfig
from schemas.config.gate import GateMode
from schemas.events import Severity


@dataclass(frozen=True)
class ClassDecision:
    label: str
    score: float
    threshold: float
    alarm: bool
    box: npt.NDArray[np.float32] | None
    cam: npt.NDArray[np.float32]
    localisation: str = "cam"  # "cam" or "localisation_head" (FireModel.localisation_source)


def thresholds_for(config: FireConfig, manifest: FireManifest) -> dict[str, float]:
    overrides = {"fire": config.threshold_fire, "smoke": config.threshold_smoke}
    return {
        label: float(overrides.get(label) or manifest.thresholds[label])
        for label in manifest.labels
    }


class FireAnalytic:
    name = "fire"

    def __init__(self, config: FireConfig, model: Callable[[], FireModel]) -> None:
        self._cfg = config
        self._model = model
        first = model()
        self._thresholds = thresholds_for(config, first.manifest)
        self._alarms = {
            label: KOfNAlarm(
                SmoothingParams(
                    k=config.k,
                    n=config.n,
                    on_threshold=t,
                    off_threshold=max(0.0, t - config.hysteresis),
                    hold_k=config.hold_k,
                )
            )
            for label, t in self._thresholds.items()
        }

    def analyze(self, frame: Frame) -> AnalysisResult:
        model = self._model()  # once per frame: a model swap never lands mid-frame
        start = time.perf_counter()
        out = model.predict(frame.image)
        inference_ms = (time.perf_counter() - start) * 1000.0
        decisions = [
            self._decide(model, k, label, out.scores, out.features, frame)
            for k, label in enumerate(model.manifest.labels)
        ]
        observations = [
            self._observation(d) for d in decisions if d.alarm and d.label in self._cfg.classes
        ]
        return AnalysisResult(
            analytic=self.name,
            outputs=self._outputs(decisions),
            observations=observations,
            inference_ms=inference_ms,
            overlay=self._overlay(frame, decisions),
        )

    def reset(self) -> None:
        for alarm in self._alarms.values():
            alarm.reset()

    def _decide(
        self,
        model: FireModel,
        k: int,
        label: str,
        scores: npt.NDArray[np.float32],
        features: npt.NDArray[np.float32],
        frame: Frame,
    ) -> ClassDecision:
        score = float(scores[k])
        alarm = self._alarms[label].update(score)
        cam = model.localisation_map(features, k)
        off = self._alarms[label].params.off_threshold
        # the box is only worth computing when the class is plausibly present
        box = None
        if score >= off:
            box = cam_box(
                cam, frame.width, frame.height, self._cfg.cam_threshold, self._cfg.cam_region
            )
        return ClassDecision(
            label, score, self._thresholds[label], alarm, box, cam, model.localisation_source
        )

    def _observation(self, d: ClassDecision) -> Observation:
        return Observation(
            key=d.label,  # constant per class: one event per occurrence, not one per frame
            type=d.label,
            label=d.label,
            score=d.score,
            box=d.box,
            severity=SEVERITY.get(d.label, Severity.HIGH),
            attributes=FireAttributes(
                threshold=d.threshold,
                k_of_n=f"{self._alarms[d.label].hits}/{self._cfg.n}",
                localisation=d.localisation,
            ),
        )

    def _outputs(self, decisions: list[ClassDecision]) -> dict[str, Any]:
        """``alarm`` is this frame's decision at the operating threshold; ``active`` is the
        smoothed (k-of-n) state that drives events. ``boxes``/``labels``/``scores`` list the
        classes at or above threshold in the shape detection analytics use, for table printers."""
        above = [d for d in decisions if d.score >= d.threshold and d.label in self._cfg.classes]
        out: dict[str, Any] = {d.label: round(d.score, 4) for d in decisions}
        out["thresholds"] = {d.label: d.threshold for d in decisions}
        out["cam_box"] = {d.label: _box_list(d.box) for d in decisions}
        out["alarm"] = bool(above)
        out["above_threshold"] = {d.label: d.score >= d.threshold for d in decisions}
        out["active"] = {d.label: d.alarm for d in decisions}
        out["boxes"] = [_box_list(d.box) for d in above if d.box is not None]
        out["labels"] = [d.label for d in above if d.box is not None]
        out["scores"] = [round(d.score, 4) for d in above if d.box is not None]
        return out

    def _overlay(
        self, frame: Frame, decisions: list[ClassDecision]
    ) -> npt.NDArray[np.uint8] | None:
        if not self._cfg.overlay:
            return None
        shown = [d for d in decisions if d.box is not None]
        if not shown:
            return None
        best = max(shown, key=lambda d: d.score)
        return heatmap_overlay(frame.image, best.cam, box=best.box)


def _box_list(box: npt.NDArray[np.float32] | None) -> list[float] | None:
    return [round(float(v), 1) for v in box] if box is not None else None


class FireFactory:
    name = "fire"
    gated = False
    model_label: str | None

    def __init__(self, config: FireConfig, model: Callable[[], FireModel]) -> None:
        self.config: AnalyticConfig = config
        self._cfg = config
        self._model = model
        self.end_after_s = config.end_after_s
        m = model().manifest
        self.model_label = f"{m.name}@{m.version}"

    def create(self, camera: str) -> Analytic:
        return FireAnalytic(self._cfg, self._model)

    def close(self) -> None:
        return None


class HandleFireBackend:
    """Runs the session a ``node.inference`` handle serves now (swappable)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def run(self, batch: npt.NDArray[np.float32]) -> tuple[
        npt.NDArray[np.float32], npt.NDArray[np.float32]
    ]:
        session = self._handle.session
        name = session.manifest.inputs[0].name
        scores, features = session.run({name: batch})
        return np.asarray(scores, np.float32), np.asarray(features, np.float32)


def model_from_config(cfg: FireConfig, ctx: BuildContext | None = None) -> FireModel:
    """The fire model a config asks for: through the node's model loader (registry entry,
    sha256-checked, swappable) or, with ``model_source: bundled``, straight from the file next to
    the fire manifest. The fire manifest (head weights for the CAM, thresholds) comes from
    ``manifest`` either way."""
    manifest_path = Path(cfg.manifest) if cfg.manifest else DEFAULT_MANIFEST
    manifest = FireManifest.load(manifest_path)
    if cfg.model_source == "registry":
        if ctx is None or ctx.models is None:
            raise ModelFileError("model_source=registry needs the node's model loader")
        name = cfg.registry_name()
        handle = ctx.models.load(name, analytic="fire")
        check_registry_model(manifest, handle.session.manifest, name)
        register_swap_check(handle, manifest)
        return FireModel(manifest, HandleFireBackend(handle))
    file_name = manifest.files.get(cfg.precision)
    if file_name is None:
        raise ModelFileError(f"no {cfg.precision} model in {manifest_path}")
    keys = (cfg.registry_name(),)  # per_model overrides apply as to the registry model
    options = (
        ctx.models.session_options(*keys, intra_op_threads=cfg.threads)
        if ctx is not None and ctx.models is not None
        else SessionOptions(intra_op_threads=cfg.threads)
    )
    backend = OrtFireBackend(manifest_path.parent / file_name, options,
                             manifest.sha256.get(file_name))
    return FireModel(manifest, backend)


def check_registry_model(manifest: FireManifest, served: Any, name: str) -> None:
    """The registry model must be one the fire manifest describes: the CAM uses the manifest's
    head weights, which only fit the feature map of the model they were exported with."""
    if list(served.labels) != list(manifest.labels):
        raise ModelFileError(
            f"registry model {name} has labels {served.labels}, the fire manifest {manifest.labels}"
        )
    if served.sha256 is not None and manifest.sha256 and served.sha256 not in (
        manifest.sha256.values()
    ):
        raise ModelFileError(
            f"registry model {name} (sha256 {served.sha256[:12]}...) is not one of the files the "
            "fire manifest describes: its CAM head would not match"
        )


def register_swap_check(handle: Any, manifest: FireManifest) -> None:
    """``model_swap`` of the fire slot accepts only a file the fire manifest describes (FP32 <->
    INT8): the CAM head and the thresholds belong to that export, so another model would keep
    scoring but draw its boxes with the wrong head."""
    from node.commands.model_swap import register_slot_check

    slot = handle.slot  # not the handle: the check must not keep its (weak) key alive

    def swap_check(candidate: Any) -> None:
        if candidate.sha256 is None or not manifest.sha256:
            raise ValueError(
                f"{slot}: a swapped-in fire model needs a sha256 that the fire manifest lists "
                f"(manifest lists {len(manifest.sha256)})"
            )
        try:
            check_registry_model(manifest, candidate, slot)
        except ModelFileError as err:
            raise ValueError(str(err)) from err

    register_slot_check(handle, swap_check)


def _build(config: NodeConfig, ctx: BuildContext) -> FireFactory:
    """Registry builder for ``analytics.fire``."""
    cfg = config.analytics.fire
    model = model_from_config(cfg, ctx)
    factory = FireFactory(cfg, lambda: model)
    factory.gated = config.gate.mode == GateMode.FACE  # runs only while the gate is open
    return factory


build = AnalyticBuilder(_build, EVENT_TYPES)
