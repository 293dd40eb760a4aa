"""The ``faces`` analytic: recognise people, report known and unknown faces, drive the gate.

Per frame: detect → quality → align → embed → open-set match → IoU track → vote. A track's
decision becomes an observation once ``vote_min`` of its last ``vote_window`` decisions agree:
``face.recognized`` (identity, similarity, authorised) or ``face.unknown`` (crop only when
``publish_unknown_crop``). Authorised identities confirmed in the frame are reported to the gate.
Gallery changes (enroll/remove over MQTT) are picked up on the next frame: the matcher is rebuilt
and every vote is forgotten, so a removed person cannot ride on old votes.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from node.analytics.base import AnalysisResult, Analytic, Observation
from node.analytics.registry import AnalyticBuilder, BuildContext
from node.face.embed import Embedder
from node.face.engine import FaceEngine, FaceSample
from node.face.events import EVENT_TYPES, FACE_RECOGNIZED, FACE_UNKNOWN
from node.face.gallery import Gallery
from node.face.gate import AuthorisationGate
from node.face.matcher import UNKNOWN, Match, Matcher, TrackVoter
from node.face.models import embedder_contract, runner_for
from node.face.quality import QualityLimits
from node.face.tracker import IouTracker
from node.face.yunet import YuNetDetector
from node.frame import Frame
from schemas.attributes import FaceRecognizedAttributes, FaceUnknownAttributes
from schemas.config import NodeConfig
from schemas.config.analytics import AnalyticConfig
from schemas.config.faces import FacesConfig


class FaceFactory:
    name = "faces"
    gated = False  # recognition is what opens the gate; it never waits for it

    def __init__(
        self,
        config: FacesConfig,
        engine: FaceEngine,
        gallery: Gallery,
        gate: AuthorisationGate | None = None,
        model_label: str | None = None,
    ) -> None:
        self.faces = config
        self.config: AnalyticConfig = config
        self.engine = engine
        self.gallery = gallery
        self.gate = gate
        self.end_after_s = config.end_after_s
        self.model_label = model_label
        self._lock = threading.Lock()
        self._matcher: Matcher | None = None
        self._matcher_rev = -1

    def matcher(self) -> tuple[Matcher, int]:
        """The matcher for the gallery's current revision (rebuilt once per change)."""
        with self._lock:
            rev = self.gallery.revision
            if self._matcher is None or rev != self._matcher_rev:
                self._matcher = self.gallery.matcher(self.faces.match_threshold,
                                                     self.faces.match_margin)
                self._matcher_rev = rev
            return self._matcher, rev

    def create(self, camera: str) -> Analytic:
        return FaceAnalytic(self, camera)

    def close(self) -> None:
        return None


class FaceAnalytic:
    name = "faces"

    def __init__(self, factory: FaceFactory, camera: str) -> None:
        self._f = factory
        self._camera = camera
        cfg = factory.faces
        self._tracker = IouTracker(cfg.track_iou, cfg.track_max_missed)
        self._voters: dict[int, TrackVoter] = {}
        self._rev = -1

    def reset(self) -> None:
        self._tracker.reset()
        self._voters.clear()

    def analyze(self, frame: Frame) -> AnalysisResult:
        t0 = time.perf_counter()
        cfg = self._f.faces
        samples = self._f.engine.analyse(frame.image)
        samples = sorted(samples, key=lambda s: -s.score)[: cfg.max_faces]
        matcher, rev = self._f.matcher()
        if rev != self._rev:
            self._voters.clear()  # [why] votes cast against an old gallery are void
            self._rev = rev
        boxes = np.stack([s.box for s in samples]) if samples else np.zeros((0, 4), np.float32)
        ids, dropped = self._tracker.update(boxes)
        for tid in dropped:
            self._voters.pop(tid, None)
        observations: list[Observation] = []
        outputs: list[dict[str, Any]] = []
        authorised: set[str] = set()
        for sample, tid in zip(samples, ids, strict=True):
            match = self._match(matcher, sample)
            voter = self._voters.setdefault(tid, TrackVoter(cfg.vote_window, cfg.vote_min))
            vote = voter.add(match) if match is not None else voter.current()
            obs = self._observation(frame, sample, tid, vote.identity, vote.similarity,
                                    vote.confirmed, vote.votes)
            if obs is not None:
                observations.append(obs)
                attrs = obs.attributes
                if isinstance(attrs, FaceRecognizedAttributes) and attrs.authorised:
                    authorised.add(vote.identity)
            outputs.append(self._output(sample, tid, match))
        if self._f.gate is not None:
            self._f.gate.report(self._camera, authorised)
        return AnalysisResult(
            analytic=self.name,
            outputs={"faces": outputs},
            observations=observations,
            inference_ms=(time.perf_counter() - t0) * 1000.0,
        )

    def _match(self, matcher: Matcher, sample: FaceSample) -> Match | None:
        if sample.embedding is None:
            return None  # low quality: no vote either way
        return matcher.match(sample.embedding[None])[0]

    def _observation(
        self, frame: Frame, sample: FaceSample, tid: int, identity: str, similarity: float,
        confirmed: bool, votes: int,
    ) -> Observation | None:
        if not confirmed:
            return None
        common = {"similarity": round(similarity, 4), "votes": votes, "face_track": tid}
        if identity == UNKNOWN:
            crop = (_crop_b64(frame.image, sample.box)
                    if self._f.faces.publish_unknown_crop else None)
            unknown = (FaceUnknownAttributes(**common, crop_jpeg_b64=crop) if crop is not None
                       else FaceUnknownAttributes(**common))
            return Observation(
                key=f"face-{tid}-unknown", type=FACE_UNKNOWN, label="face",
                score=float(sample.score), box=sample.box, attributes=unknown,
            )
        known = FaceRecognizedAttributes(
            **common, identity=identity, authorised=self._f.gallery.is_authorised(identity)
        )
        return Observation(
            key=f"face-{tid}-{identity}", type=FACE_RECOGNIZED, label="face",
            score=float(np.clip(similarity, 0.0, 1.0)), box=sample.box, attributes=known,
        )

    @staticmethod
    def _output(sample: FaceSample, tid: int, match: Match | None) -> dict[str, Any]:
        q = sample.quality
        return {
            "track": tid,
            "box": [round(float(v), 1) for v in sample.box],
            "score": round(sample.score, 4),
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in sample.landmarks],
            "quality": {"size_px": round(q.size_px, 1), "sharpness": round(q.sharpness, 1),
                        "issues": [i.value for i in q.issues]},
            "identity": (match.identity or None) if match else None,
            "similarity": round(match.similarity, 4) if match else None,
        }


def _crop_b64(image: np.ndarray[Any, Any], box: np.ndarray[Any, Any]) -> str:
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    crop = image[max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return base64.b64encode(buf.tobytes()).decode() if ok else ""


# ---- building -----------------------------------------------------------------------------
def limits_from(cfg: FacesConfig) -> QualityLimits:
    return QualityLimits(
        min_face_px=cfg.min_face_px,
        min_sharpness=cfg.min_sharpness,
        max_roll_deg=cfg.max_roll_deg,
        max_yaw=cfg.max_yaw,
    )


def build_engine(cfg: FacesConfig, models: Any = None, models_dir: str | None = None) -> FaceEngine:
    detector = YuNetDetector(
        runner_for(cfg.detector, models, models_dir),
        score_threshold=cfg.detection_threshold,
        nms_threshold=cfg.nms_threshold,
    )
    embedder = Embedder(runner_for(cfg.embedder, models, models_dir),
                        embedder_contract(cfg.embedder, models))
    return FaceEngine(detector, embedder, limits_from(cfg))


def gallery_path(cfg: FacesConfig, data_dir: str | Path) -> Path:
    return Path(cfg.gallery) if cfg.gallery else Path(data_dir) / "faces" / "gallery.json"


@dataclass(frozen=True)
class FaceServices:
    """The face engine and gallery of one node, shared by the faces analytic, the face commands
    and the movement escalation (``node.services.NodeServices.faces``)."""

    engine: FaceEngine
    gallery: Gallery

    @classmethod
    def from_config(cls, cfg: FacesConfig, data_dir: str | Path, models: Any = None
                    ) -> FaceServices:
        """Loads the face models (a first start may pull them): off the event loop."""
        engine = build_engine(cfg, models)
        return cls(engine, Gallery(gallery_path(cfg, data_dir), store_crops=cfg.store_crops))


def _build_faces(config: NodeConfig, ctx: BuildContext) -> FaceFactory:
    """(NodeConfig, BuildContext) -> FaceFactory, on the node's face services and gate when it
    has them (``ctx.services``), else on its own engine and gallery, with no gate (``analyze``)."""
    cfg: FacesConfig = config.analytics.faces
    services = ctx.services
    faces = services.faces if services is not None else None
    if faces is None:
        faces = FaceServices.from_config(cfg, ctx.data_dir, ctx.models)
    gate = services.gate if services is not None else None
    return FaceFactory(cfg, faces.engine, faces.gallery, gate,
                       model_label=f"{cfg.detector}+{cfg.embedder}")


build_faces = AnalyticBuilder(_build_faces, EVENT_TYPES)
