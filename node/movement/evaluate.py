"""Clip-level evaluation of the movement analytic (and the NFD fall baseline, side by side).

Clips live in folders named by label (``fall/``, ``fight/``, ``run/``, ``walk/``, ``nonfight/``,
``other/``). Each clip is analysed as its own camera at the analytic's rate; a clip "yields" an
action when at least one confirmed ``movement`` observation of that action occurred.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from node.frame import Frame
from node.inference.session import ModelSession, SessionOptions
from node.movement.analytic import MovementAnalytic
from node.movement.baseline import NfdBaseline
from node.movement.factory import MovementFactory, classifier_from
from node.movement.pose_estimator import PoseEstimator
from node.registry.defaults import default_registry
from schemas.config.movement import MovementConfig

ACTIONS = ("walk", "run", "fall", "fight")
# what each folder must (and must not) yield: the acceptance table of issue 6
EXPECT: dict[str, tuple[set[str], set[str]]] = {
    "fall": ({"fall"}, set()),
    "fight": ({"fight"}, set()),
    "run": ({"run"}, set()),
    "walk": (set(), {"fall", "fight"}),
    "nonfight": (set(), {"fall", "fight"}),
    "other": (set(), {"fall", "fight"}),
}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm"}


def session_from_dir(models_dir: Path, name: str, threads: int = 1) -> ModelSession:
    entry = default_registry()[name]
    path = models_dir / entry.file
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model {name} not found (give --models DIR)")
    opts = SessionOptions(intra_op_threads=threads)
    return ModelSession(path, entry.manifest, opts)


def factory_from_dir(cfg: MovementConfig, models_dir: Path) -> MovementFactory:
    """A movement factory whose detector and pose models are files of ``models_dir``."""
    det = session_from_dir(models_dir, cfg.detector)
    pose = session_from_dir(models_dir, cfg.pose_model)
    estimator = PoseEstimator(lambda: pose, pose.manifest.inputs[0].name, cfg.pose_long_side)
    return MovementFactory(cfg, lambda: det, estimator, classifier_from(cfg))


@dataclass
class ClipResult:
    path: str
    label: str
    frames: int
    actions: dict[str, int]  # action -> number of distinct (track, action) occurrences
    baseline_fall: bool | None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    furthest_fall_state: str = "upright"  # how far any fall machine got (evidence for misses)

    @property
    def passed(self) -> bool | None:
        if self.label not in EXPECT:
            return None
        must, must_not = EXPECT[self.label]
        got = {a for a, n in self.actions.items() if n}
        return must <= got and not (must_not & got)

    def to_json(self) -> dict[str, Any]:
        return {"clip": self.path, "label": self.label, "frames": self.frames,
                "actions": sorted(a for a, n in self.actions.items() if n),
                "baseline_fall": self.baseline_fall, "pass": self.passed,
                "furthest_fall_state": self.furthest_fall_state,
                "evidence": self.evidence, "seconds": round(self.seconds, 1)}


def run_clip(path: Path, label: str, factory: MovementFactory, cfg: MovementConfig,
             baseline: NfdBaseline | None) -> ClipResult:
    analytic = factory.create(path.stem)
    assert isinstance(analytic, MovementAnalytic)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: cannot be opened as a video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    stride = max(1, round(fps / cfg.fps))
    start = time.perf_counter()
    index, analysed = 0, 0
    evidence: list[dict[str, Any]] = []
    seen: set[str] = set()
    order = ["upright", "descending", "ground", "fallen"]
    furthest = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            if index % stride == 0:
                t = index / fps
                frame = Frame(path.stem, index, np.asarray(image, np.uint8), 1_700_000_000.0 + t, t)
                result = analytic.analyze(frame)
                analysed += 1
                for state in analytic.fall_states().values():
                    furthest = max(furthest, order.index(state))
                for obs in result.observations:
                    if obs.key not in seen:  # the first time each (track, action) holds
                        seen.add(obs.key)
                        evidence.append({"t": round(t, 2), "action": obs.label,
                                         **obs.attributes.model_dump(exclude={"probs"})})
                if baseline is not None:
                    baseline.update(analytic.last_poses, image.shape[:2], t)
            index += 1
        # end of the clip: people still down after a fall are confirmed now (lower score)
        for obs in analytic.finish(index / fps):
            if obs.key not in seen:
                seen.add(obs.key)
                evidence.append({"t": round(index / fps, 2), "action": obs.label,
                                 **obs.attributes.model_dump(exclude={"probs"})})
        for state in analytic.fall_states().values():
            furthest = max(furthest, order.index(state))
    finally:
        cap.release()
    actions = {a: sum(1 for e in evidence if e["action"] == a) for a in ACTIONS}
    return ClipResult(str(path), label, analysed, actions,
                      None if baseline is None else bool(baseline.fell), evidence,
                      time.perf_counter() - start, order[furthest])


def clips_in(root: Path) -> list[tuple[Path, str]]:
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder of label folders")
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        out += [(f, folder.name) for f in sorted(folder.iterdir())
                if f.suffix.lower() in VIDEO_SUFFIXES]
    return out


def summarise(results: list[ClipResult]) -> dict[str, Any]:
    """Per action: clip-level recall on its own folder and false alarms on the others."""
    per_class: dict[str, Any] = {}
    for action in ACTIONS:
        own = [r for r in results if r.label == action]
        others = [r for r in results if r.label != action]
        row: dict[str, Any] = {
            "clips": len(own),
            "recall": (sum(1 for r in own if r.actions[action]) / len(own)) if own else None,
            "false_alarm_clips": sum(1 for r in others if r.actions[action]),
            "other_clips": len(others),
        }
        if action == "fall":
            row["baseline_recall"] = (
                sum(1 for r in own if r.baseline_fall) / len(own)
                if own and all(r.baseline_fall is not None for r in own) else None)
            row["baseline_false_alarm_clips"] = sum(1 for r in others if r.baseline_fall)
        per_class[action] = row
    judged = [r for r in results if r.passed is not None]
    return {"clips": [r.to_json() for r in results], "per_class": per_class,
            "acceptance": {"passed": sum(1 for r in judged if r.passed), "clips": len(judged)}}
