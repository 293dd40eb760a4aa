"""``ModelHandle``: the swappable slot analytics read their session from.

Analytics read ``handle.session`` once per frame and use that object for the whole frame, so a
swap takes effect between two frames and never in the middle of one. Reading an attribute is
atomic in CPython; the lock only serialises writers (swap, rollback).
"""

from __future__ import annotations

import threading

from node.inference.errors import NoPreviousModelError
from node.inference.session import ModelSession
from schemas.manifest import ModelRef, ModelSlotState


def model_ref(session: ModelSession) -> ModelRef:
    m = session.manifest
    return ModelRef(name=m.name, version=m.version, sha256=m.sha256)


class ModelHandle:
    def __init__(self, slot: str, session: ModelSession) -> None:
        self.slot = slot
        self._session = session
        self._previous: ModelSession | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> ModelSession:
        return self._session

    @property
    def previous(self) -> ModelSession | None:
        return self._previous

    @property
    def name(self) -> str:
        return self._session.manifest.name

    @property
    def version(self) -> str:
        return self._session.manifest.version

    @property
    def sha256(self) -> str | None:
        return self._session.manifest.sha256

    def swap(self, new: ModelSession) -> ModelSession:
        """Serve ``new`` from the next frame on; keep the old one for rollback and return it."""
        with self._lock:
            old = self._session
            self._previous = old
            self._session = new
        return old

    def rollback(self) -> ModelSession:
        """Serve the previous model again; the rolled-back one becomes the previous."""
        with self._lock:
            if self._previous is None:
                raise NoPreviousModelError(self.slot)
            self._session, self._previous = self._previous, self._session
            return self._session

    def state(self) -> ModelSlotState:
        with self._lock:
            current, previous = self._session, self._previous
        return ModelSlotState(
            slot=self.slot,
            active=model_ref(current),
            previous=model_ref(previous) if previous is not None else None,
            providers=current.providers,
        )
