"""``ModelLoader``: registry name -> verified file -> warmed-up session in a swappable handle.

Analytics builders get it as ``BuildContext.models`` and call ``load(name)``; the swap commands
use ``build_session`` and ``handle`` so a swapped model is built with the same runtime options.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from node.inference.errors import UnknownSlotError
from node.inference.handle import ModelHandle
from node.inference.session import ModelSession, SessionOptions, session_options
from node.registry.store import ModelStore
from schemas.config.models import ModelsConfig
from schemas.manifest import ModelManifest

log = logging.getLogger(__name__)

TENSORRT_ENGINES = "tensorrt"  # folder in the store for built TensorRT engines


class ModelLoader:
    def __init__(
        self,
        store: ModelStore,
        config: ModelsConfig | None = None,
        intra_op_threads: int | None = None,
    ) -> None:
        """``intra_op_threads`` overrides the config's for every session of this loader (the
        explainer's own sessions)."""
        self.store = store
        self.config = config or ModelsConfig()
        self._threads = intra_op_threads
        self._handles: dict[str, ModelHandle] = {}
        self._analytics: dict[str, str] = {}  # analytic name -> slot
        self._lock = threading.Lock()

    def session_options(self, *keys: str, intra_op_threads: int | None = None) -> SessionOptions:
        """The options a model of ``keys`` (slot, model name) runs with: the ``models`` config,
        its ``per_model`` overrides, TensorRT engines kept in the store. Also for model files
        opened outside the registry (a bundled fire model, a custom movement classifier)."""
        threads = intra_op_threads if intra_op_threads is not None else self._threads
        return session_options(
            self.config, *keys, intra_op_threads=threads,
            engine_cache_dir=self.store.root / TENSORRT_ENGINES,
        )  # fmt: skip

    def build_session(self, path: Path, manifest: ModelManifest, slot: str) -> ModelSession:
        """Open, check against ``manifest`` and warm up; raises a ``ModelError`` subclass."""
        session = ModelSession(path, manifest, self.session_options(slot, manifest.name))
        session.warmup(self.config.warmup_runs)
        return session

    def load(self, name: str, analytic: str | None = None) -> ModelHandle:
        """The handle of slot ``name``, loading (and pulling) the model the first time.

        Blocking (download, session creation): call it from a thread when on the event loop.
        ``analytic`` records which analytic uses the slot, so ``model_swap`` can name either.
        """
        with self._lock:
            handle = self._handles.get(name)
            if handle is None:
                if not self.store.path(name).is_file():
                    log.info("model %s is not in %s: pulling it", name, self.store.root)
                path, manifest = self.store.ensure(name, pull_missing=self.config.pull_missing)
                log.info("loading model %s (%s)", manifest.label, path)
                handle = ModelHandle(name, self.build_session(path, manifest, name))
                self._handles[name] = handle
            if analytic is not None:
                self._analytics[analytic] = name
            return handle

    def handle(self, slot: str) -> ModelHandle:
        with self._lock:
            if slot not in self._handles:
                raise UnknownSlotError(slot, list(self._handles))
            return self._handles[slot]

    def slot_of(self, analytic: str) -> str:
        with self._lock:
            if analytic not in self._analytics:
                raise UnknownSlotError(analytic, list(self._analytics))
            return self._analytics[analytic]

    def handles(self) -> dict[str, ModelHandle]:
        with self._lock:
            return dict(self._handles)

    def add(self, handle: ModelHandle, analytic: str | None = None) -> None:
        """Register a handle built elsewhere (tests, models outside the registry)."""
        with self._lock:
            self._handles[handle.slot] = handle
            if analytic is not None:
                self._analytics[analytic] = handle.slot
