"""The one seam between the face code and ONNX Runtime.

Face code only sees a *runner*: ``feeds -> {output name: array}``. Today a runner comes either from
the node's model runtime (``ctx.models.load(name)`` returning a handle with ``.session``) or, when
that is absent (CLI, tests, benchmarks), straight from an ``.onnx`` file. Switching the source is
one line in ``runner_for``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from node.face.embed import KNOWN, EmbedderContract
from node.face.yunet import Runner
from node.inference.session import SessionOptions, open_session

F32 = npt.NDArray[np.float32]

# registry name -> file name in a models directory (shared test data or a user's model store)
MODEL_FILES = {"yunet": "yunet_n_320_320.onnx", "mobilefacenet": "MobileFaceNet.onnx"}


def session_runner(session: Any) -> Runner:
    """Wrap a raw ``onnxruntime.InferenceSession``."""
    names = [o.name for o in session.get_outputs()]

    def run(feeds: dict[str, F32]) -> dict[str, F32]:
        return dict(zip(names, session.run(names, feeds), strict=True))

    return run


def ort_runner(path: str | Path, options: SessionOptions | None = None) -> Runner:
    """A session on one model file, made by the node's one session factory (default: one
    intra-op thread, the best providers available)."""
    return session_runner(open_session(path, options or SessionOptions(intra_op_threads=1)))


def models_dir() -> Path | None:
    """Where to find model files when no model runtime is wired (env ``CITYWATCH_MODELS_DIR``,
    else ``$CITYWATCH_TEST_DATA/models``)."""
    for var, sub in (("CITYWATCH_MODELS_DIR", ""), ("CITYWATCH_TEST_DATA", "models")):
        value = os.environ.get(var)
        if value:
            return Path(value) / sub if sub else Path(value)
    return None


def handle_runner(handle: Any) -> Runner:
    """Wrap a ``node.inference.handle.ModelHandle``. The session is read once per call, so a
    model swap takes effect between two calls, never inside one."""

    def run(feeds: dict[str, F32]) -> dict[str, F32]:
        session = handle.session
        return dict(zip(session.output_names, session.run(feeds), strict=True))

    return run


def runner_for(name: str, models: Any = None, directory: str | Path | None = None) -> Runner:
    """Resolve a registry name to a runner: the node's model runtime first, else a file."""
    if models is not None:
        return handle_runner(models.load(name))
    base = Path(directory) if directory is not None else models_dir()
    if base is None:
        raise FileNotFoundError(
            f"no model runtime and no models directory for {name!r}: "
            "set CITYWATCH_MODELS_DIR or pass --models"
        )
    path = base / MODEL_FILES.get(name, f"{name}.onnx")
    if not path.is_file():
        raise FileNotFoundError(f"model file for {name!r} not found: {path}")
    return ort_runner(path)


def embedder_contract(name: str, models: Any = None) -> EmbedderContract:
    """The embedder's input contract: from its manifest when the model runtime has it, else the
    built-in contract of a known embedder."""
    if models is not None:
        return EmbedderContract.from_manifest(models.load(name).session.manifest)
    if name not in KNOWN:
        raise KeyError(f"no manifest for embedder {name!r}; known without one: {sorted(KNOWN)}")
    return KNOWN[name]
