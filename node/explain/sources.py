"""Where the explainer's models come from: the config and the node's model loader.

Every loader is lazy (a request for the fire model never loads the detectors) and cached. The
Grad-CAM graph is checked against the fire model it claims to explain: both score a probe image,
and a graph exported from another fire model (a retrained one) is refused with the command that
re-exports it, instead of drawing gradients of the wrong weights.
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
from schemas.config import NodeConfig

GRADCAM_SLOT = "fire_gradcam"
SUSPECT_SLOT = "suspect_yolox"
PROBE_TOLERANCE = 1e-3
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


def identities(gallery: Gallery) -> Identities:
    names: list[str] = []
    rows: list[np.ndarray] = []
    for name in gallery.names():
        emb = gallery.embeddings(name)
        names += [name] * len(emb)
        rows.append(emb)
    dim = rows[0].shape[1] if rows else 0
    return Identities(names, np.concatenate(rows) if rows else np.zeros((0, dim), np.float32))


def check_gradcam_matches(model: FireModel, session: GradientSession) -> None:
    """The Grad-CAM graph must score like the fire model (same weights), or it explains another
    model."""
    rng = np.random.default_rng(0)
    size = model.manifest.input_size
    probe = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    x = model.input_for(probe)
    want, _ = model.backend.run(x)
    feeds = {"input": x, "class_weights": one_hot(0, len(model.manifest.labels))}
    got = dict(zip(session.output_names, session.run(feeds), strict=True))["scores"]
    if float(np.abs(np.asarray(got) - want).max()) > PROBE_TOLERANCE:
        raise MissingExtraError(
            f"the {GRADCAM_SLOT} graph was exported from another fire model than the one this "
            "node runs; re-export it with `citywatch-train explain export-gradcam --source "
            "<the fire FP32 ONNX>` and import it (`citywatch models import`)"
        )


def explain_models(config: NodeConfig, loader: Any) -> ExplainModels:
    """Lazy loaders of every model the explainer knows, from ``config`` and the node's model
    loader (``node.registry.loader.ModelLoader``)."""
    from node.analytics.registry import BuildContext
    from node.face.analytic import build_engine, gallery_path
    from node.fire.analytic import model_from_config

    def fire() -> FireModel:
        ctx = BuildContext(node_id=config.node_id, data_dir=Path(config.data_dir), models=loader)
        return model_from_config(config.analytics.fire, ctx)

    fire_model = cached(fire)

    def gradcam() -> GradientSession:
        session: GradientSession = loader.load(GRADCAM_SLOT).session
        check_gradcam_matches(fire_model(), session)
        return session

    def detector(slot: str) -> Callable[[], Any]:
        return cached(lambda: loader.load(slot).session)

    fc = config.analytics.faces
    engine = cached(lambda: build_engine(fc, loader))

    def faces() -> tuple[Any, Identities]:
        # read per request: identities are enrolled and removed while the node runs
        return engine(), identities(Gallery(gallery_path(fc, config.data_dir)))

    return ExplainModels(
        fire=fire_model,
        fire_gradcam=cached(gradcam),
        detectors={
            "objects": detector(config.analytics.objects.model),
            "suspect": detector(SUSPECT_SLOT),
        },
        faces=faces,
    )
