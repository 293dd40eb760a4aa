"""The face gallery: identities with several embeddings, an authorised flag and metadata.

Biometric data, handled with care:
- one JSON file, mode 0600 in a 0700 directory; embeddings and metadata only, aligned crops only
  when ``store_crops`` is configured;
- every change is written atomically (temp file in the same directory, fsync, ``os.replace``,
  fsync of the directory): a crash or SIGKILL mid-write leaves the old or the new file, never a
  torn one;
- removing a person rewrites the file without any of their data;
- the embedder that produced the vectors is recorded, so a swapped embedder never compares
  incompatible vectors silently.

Thread-safe: commands (event loop, via a worker thread) and analytics (inference threads) share
one instance. ``revision`` grows on every change so readers rebuild their matcher lazily.
"""

from __future__ import annotations

import contextlib
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from node.face.matcher import Matcher

F32 = npt.NDArray[np.float32]
FORMAT = "citywatch-face-gallery"
IDENTITY_PATTERN = r"^[\w][\w .'-]{0,63}$"


class GalleryError(Exception):
    """The gallery file is unreadable, or a change is impossible (unknown name, wrong dim)."""


class IdentityRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authorised: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    embeddings: list[list[float]]
    crops: list[str] = Field(default_factory=list, description="base64 PNG, only if configured")


class GalleryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    version: int = 1
    embedder: str | None = None  # "name:dim" of the embedder that made every vector
    identities: dict[str, IdentityRecord] = Field(default_factory=dict)


class IdentitySummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    authorised: bool
    samples: int
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.chmod(mode)  # [why] O_CREAT's mode is masked by umask; we want exactly 0600
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


class Gallery:
    def __init__(self, path: str | Path, store_crops: bool = False) -> None:
        self.path = Path(path)
        self.store_crops = store_crops
        self._lock = threading.RLock()
        self._data = self._load()
        self.revision = 0

    # ---- persistence -------------------------------------------------------------------
    def _load(self) -> GalleryFile:
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # left by a writer killed before its rename
        if not self.path.exists():
            return GalleryFile()
        try:
            data = GalleryFile.model_validate_json(self.path.read_bytes())
        except (ValidationError, ValueError) as err:
            raise GalleryError(f"gallery {self.path} is unreadable: {err}") from err
        if data.format != FORMAT:
            raise GalleryError(f"{self.path} is not a face gallery (format {data.format!r})")
        return data

    def _save(self) -> None:
        atomic_write(self.path, self._data.model_dump_json().encode())
        self.revision += 1

    # ---- queries -----------------------------------------------------------------------
    @property
    def embedder(self) -> str | None:
        return self._data.embedder

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._data.identities)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._data.identities

    def is_authorised(self, name: str) -> bool:
        with self._lock:
            rec = self._data.identities.get(name)
            return bool(rec and rec.authorised)

    def summaries(self) -> list[IdentitySummary]:
        with self._lock:
            return [
                IdentitySummary(
                    name=n,
                    authorised=r.authorised,
                    samples=len(r.embeddings),
                    metadata=r.metadata,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                )
                for n, r in sorted(self._data.identities.items())
            ]

    def embeddings(self, name: str) -> F32:
        with self._lock:
            rec = self._require(name)
            return np.asarray(rec.embeddings, np.float32)

    def matcher(self, threshold: float, margin: float, exclude: str | None = None) -> Matcher:
        with self._lock:
            labels: list[str] = []
            rows: list[list[float]] = []
            for n, r in self._data.identities.items():
                if n == exclude:
                    continue
                labels += [n] * len(r.embeddings)
                rows += r.embeddings
            dim = int(self._data.embedder.split(":")[-1]) if self._data.embedder else 0
            emb = np.asarray(rows, np.float32).reshape(len(rows), dim if rows else 0)
            return Matcher(emb, labels, threshold, margin)

    # ---- changes -----------------------------------------------------------------------
    def add(
        self,
        name: str,
        embeddings: F32,
        embedder: str,
        *,
        authorised: bool | None = None,
        metadata: dict[str, Any] | None = None,
        crops_png_b64: list[str] | None = None,
        replace: bool = False,
    ) -> IdentitySummary:
        """Add samples to ``name`` (created if new). ``replace`` drops its previous samples."""
        emb = np.asarray(embeddings, np.float32)
        if emb.ndim != 2 or len(emb) == 0:
            raise GalleryError(f"need a non-empty (N,D) embedding array, got {emb.shape}")
        with self._lock:
            if self._data.embedder not in (None, embedder):
                raise GalleryError(
                    f"gallery holds {self._data.embedder} embeddings, not {embedder}: "
                    "re-enroll everyone after changing the embedder"
                )
            now = _now()
            rec = self._data.identities.get(name)
            if rec is None:
                rec = IdentityRecord(created_at=now, updated_at=now, embeddings=[])
            new = rec.model_copy(deep=True)
            if replace:
                new.embeddings, new.crops = [], []
            new.embeddings += emb.round(6).tolist()
            if self.store_crops and crops_png_b64:
                new.crops += crops_png_b64
            if authorised is not None:
                new.authorised = authorised
            if metadata:
                new.metadata.update(metadata)
            new.updated_at = now
            self._commit(name, new, embedder)
            return self._summary(name)

    def set_authorised(self, name: str, authorised: bool) -> IdentitySummary:
        with self._lock:
            new = self._require(name).model_copy(deep=True)
            new.authorised = authorised
            new.updated_at = _now()
            self._commit(name, new, self._data.embedder)
            return self._summary(name)

    def remove(self, name: str) -> None:
        """Delete every trace of ``name`` from the gallery file (embeddings, crops, metadata)."""
        with self._lock:
            self._require(name)
            old = self._data
            self._data = old.model_copy(
                update={"identities": {k: v for k, v in old.identities.items() if k != name}}
            )
            if not self._data.identities:
                self._data.embedder = None
            try:
                self._save()
            except BaseException:
                self._data = old
                raise

    def export(self, dest: str | Path) -> int:
        with self._lock:
            atomic_write(Path(dest), self._data.model_dump_json(indent=1).encode())
            return len(self._data.identities)

    def import_file(self, src: str | Path, replace: bool = False) -> int:
        """Merge (or with ``replace``, substitute) a gallery exported by ``export``."""
        incoming = Gallery(src)._data
        with self._lock:
            if not replace and self._data.identities and incoming.embedder not in (
                None,
                self._data.embedder,
            ):
                raise GalleryError(
                    f"import holds {incoming.embedder} embeddings, gallery {self._data.embedder}"
                )
            old = self._data
            merged = incoming if replace else old.model_copy(deep=True)
            if not replace:
                merged.identities.update(incoming.identities)
                merged.embedder = merged.embedder or incoming.embedder
            if not self.store_crops:
                for rec in merged.identities.values():
                    rec.crops = []
            self._data = merged
            try:
                self._save()
            except BaseException:
                self._data = old
                raise
            return len(incoming.identities)

    # ---- helpers -----------------------------------------------------------------------
    def _require(self, name: str) -> IdentityRecord:
        rec = self._data.identities.get(name)
        if rec is None:
            raise KeyError(name)
        return rec

    def _commit(self, name: str, rec: IdentityRecord, embedder: str | None) -> None:
        old = self._data
        ids = dict(old.identities)
        ids[name] = rec
        self._data = old.model_copy(update={"identities": ids, "embedder": embedder})
        try:
            self._save()
        except BaseException:
            self._data = old  # memory never runs ahead of the disk
            raise

    def _summary(self, name: str) -> IdentitySummary:
        return next(s for s in self.summaries() if s.name == name)
