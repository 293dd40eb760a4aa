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
from node.inference.session import ModelSession, SessionOptions
from node.registry.store import ModelStore
from schemas.config.models import ModelsConfig
from schemas.manifest import ModelManifest

log = logging.getLogger(__name__)


def session_options(config: ModelsConfig, *keys: str) -> SessionOptions:
    """Runtime defaults from ``config``, overridden by ``per_model`` entries of ``keys``."""
    providers = config.providers
    intra, inter = config.intra_op_threads, config.inter_op_threads
    for key in keys:
        o = config.per_model.get(key)
        if o is None:
            continue
        providers = o.providers if o.providers is not None else providers
        intra = o.intra_op_threads if o.intra_op_threads is not None else intra
        inter = o.inter_op_threads if o.inter_op_threads is not None else inter
    return SessionOptions(
        intra_op_threads=intra,
        inter_op_threads=inter,
        graph_optimization=config.graph_optimization,
        providers=tuple(providers) if providers else None,
    )


class ModelLoader:
    def __init__(self, store: ModelStore, config: ModelsConfig | None = None) -> None:
        self.store = store
        self.config = config or ModelsConfig()
        self._handles: dict[str, ModelHandle] = {}
        self._analytics: dict[str, str] = {}  # analytic name -> slot
        self._lock = threading.Lock()

    def build_session(self, path: Path, manifest: ModelManifest, slot: str) -> ModelSession:
        """Open, check against ``manifest`` and warm up; raises a ``ModelError`` subclass."""
        session = ModelSession(path, manifest, session_options(self.config, slot, manifest.name))
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
