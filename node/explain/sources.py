"""Where the explainer's models come from: the config and a model loader.

Every source is lazy (a request for the fire model never loads the detectors) and cached. In a
running node the explainer has its *own* sessions (``explain.intra_op_threads`` threads each, so
the work stays in its low-priority worker thread) that follow the node's: ``MirroredLoader``
hands out handles whose session is rebuilt whenever the node's slot serves another file (after
``model_swap``), so an explanation is always of the model that produced the event.

The Grad-CAM graph is checked against the fire model it claims to explain: both score a probe
image, and a graph exported from another fire model (a retrained one) is refused with the command
that re-exports it, instead of drawing gradients of the wrong weights.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from node.explain.errors import MissingExtraError
from node.explain.explainer import ExplainModels
from node.explain.faces import Identities
from node.explain.fire import GradientSession
from node.explain.gradcam import one_hot
from node.face.gallery import Gallery
from node.fire.model import FireModel
from node.inference.session import ModelSession, SessionOptions
from node.registry.loader import ModelLoader
from schemas.config import NodeConfig

GRADCAM_SLOT = "fire_gradcam"
SUSPECT_SLOT = "suspect_yolox"
PROBE_TOLERANCE = 0.02
T = TypeVar("T")


def cached(build: Callable[[], T]) -> Callable[[], T]:
    """``build`` run once, on first use (thread-safe: requests may come from worker threads)."""
    lock = threading.Lock()
    box: list[T] = []

    def get() -> T:
        with lock:
            if not box:
                box.append(build())
            return box[0]

    return get


class MirrorHandle:
    """A handle on the explainer's own session of ``slot``, rebuilt when the node's serves
    another model file."""

    def __init__(self, slot: str, own: ModelLoader, served: ModelLoader) -> None:
        self.slot = slot
        self._own = own
        self._served = served
        self._lock = threading.Lock()
        self._key: tuple[str, str | None] | None = None
        self._session: ModelSession | None = None

    @property
    def session(self) -> ModelSession:
        with self._lock:
            handle = self._served.handles().get(self.slot)
            if handle is None:  # the node does not run it: the explainer loads it itself
                return self._own.load(self.slot).session
            served = handle.session
            key = (str(served.path), served.manifest.sha256)
            if self._session is None or key != self._key:
                self._session = self._own.build_session(served.path, served.manifest, self.slot)
                self._key = key
            return self._session


class MirroredLoader:
    """The part of ``ModelLoader`` the explanation sources use, mirroring the node's slots."""

    def __init__(self, own: ModelLoader, served: ModelLoader) -> None:
        self._own = own
        self._served = served
        self._handles: dict[str, MirrorHandle] = {}
        self._lock = threading.Lock()

    def load(self, name: str, analytic: str | None = None) -> MirrorHandle:
        with self._lock:
            if name not in self._handles:
                self._handles[name] = MirrorHandle(name, self._own, self._served)
            return self._handles[name]

    def session_options(self, *keys: str, intra_op_threads: int | None = None) -> SessionOptions:
        return self._own.session_options(*keys, intra_op_threads=intra_op_threads)


def identities(gallery: Gallery) -> Identities:
    names: list[str] = []
    rows: list[np.ndarray] = []
    for name in gallery.names():
        emb = gallery.embeddings(name)
        names += [name] * len(emb)
        rows.append(emb)
    dim = rows[0].shape[1] if rows else 0
    return Identities(names, np.concatenate(rows) if rows else np.zeros((0, dim), np.float32))


def check_gradcam_matches(model: FireModel, session: GradientSession, version: str) -> None:
    """The Grad-CAM graph must come from the fire model the node runs: the same version and
    labels, and on a probe image scores within ``PROBE_TOLERANCE`` (FP32 and INT8 share a
    version; the INT8 model, within 0.005 of FP32 on the probe, is explained by the FP32
    gradients)."""
    m = model.manifest
    if version != m.version:
        raise MissingExtraError(
            f"the {GRADCAM_SLOT} graph is of fire model version {version}, this node runs "
            f"{m.version}; re-export it with `citywatch-train explain export-gradcam --source "
            "<the fire FP32 ONNX>` and import it (`citywatch models import`)"
        )
    rng = np.random.default_rng(0)
    probe = rng.integers(0, 256, (m.input_size, m.input_size, 3), dtype=np.uint8)
    x = model.input_for(probe)
    want, _ = model.backend.run(x)
    feeds = {"input": x, "class_weights": one_hot(0, len(m.labels))}
    got = dict(zip(session.output_names, session.run(feeds), strict=True))["scores"]
    if float(np.abs(np.asarray(got) - want).max()) > PROBE_TOLERANCE:
        raise MissingExtraError(
            f"the {GRADCAM_SLOT} graph does not score like the fire model it should explain "
            "(a retrained model with an old version tag?); re-export it"
        )


def explain_models(
    config: NodeConfig,
    loader: ModelLoader | MirroredLoader,
    gallery: Callable[[], Gallery] | None = None,
    face_engine: Callable[[], Any] | None = None,
) -> ExplainModels:
    """Lazy sources of every model the explainer knows, from ``config`` and ``loader``. A node
    passes its face engine and gallery (shared with the faces analytic); the CLI lets them be
    built from the config."""
    from node.analytics.registry import BuildContext
    from node.face.analytic import build_engine, gallery_path
    from node.fire.analytic import model_from_config

    def fire() -> FireModel:
        ctx = BuildContext(node_id=config.node_id, data_dir=Path(config.data_dir), models=loader)
        return model_from_config(config.analytics.fire, ctx)

    fire_model = cached(fire)

    def gradcam() -> GradientSession:
        session = loader.load(GRADCAM_SLOT).session
        check_gradcam_matches(fire_model(), session, session.manifest.version)
        return session

    def detector(slot: str) -> Callable[[], Any]:
        handle = cached(lambda: loader.load(slot))
        return lambda: handle().session  # read per request: a mirrored slot may have changed

    fc = config.analytics.faces
    engine = face_engine or cached(lambda: build_engine(fc, loader))
    people = gallery or (lambda: Gallery(gallery_path(fc, config.data_dir)))

    def faces() -> tuple[Any, Identities]:
        # read per request: identities are enrolled and removed while the node runs
        return engine(), identities(people())

    return ExplainModels(
        fire=fire_model,
        fire_gradcam=cached(gradcam),
        detectors={
            "objects": detector(config.analytics.objects.model),
            "suspect": detector(SUSPECT_SLOT),
        },
        faces=faces,
    )
