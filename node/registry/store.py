"""``ModelStore``: the per-user folder of verified model files.

Layout of ``root`` (default ``$XDG_CACHE_HOME/citywatch/models``)::

    yolox_nano.onnx            registry models, under the file name of the registry/mirror
    my_detector.onnx           imported models ...
    manifests/my_detector.json ... and their registry entries (file + manifest)
    blobs/<sha256>.onnx        models fetched by URL for a swap, content-addressed
    tensorrt/                  TensorRT engines built from these models (``models.tensorrt``)

Every file arrives through ``download.fetch`` or ``_install_copy`` (temp file, verify, atomic
rename), so a name in the store always holds complete, checked bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from node.inference.errors import (
    ChecksumMismatchError,
    FetchFailedError,
    ModelError,
    UnknownModelError,
)
from node.registry.defaults import RegistryEntry, bundled_models_dir, default_registry
from node.registry.download import ProgressFactory, ProgressPrinter, fetch, sha256_file
from schemas.manifest import ModelManifest

MIRROR_ENV = "CITYWATCH_MODEL_MIRROR"


def default_store_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "citywatch" / "models"


def mirror_url(mirror: str, file: str) -> str:
    """``<mirror>/<file>`` for an http(s)/file URL mirror or a local directory."""
    if mirror.startswith(("http://", "https://", "file://")):
        return mirror.rstrip("/") + "/" + file
    return (Path(mirror).expanduser().resolve() / file).as_uri()


@dataclass(frozen=True)
class PullResult:
    name: str
    path: Path
    action: Literal["present", "downloaded"]


@dataclass(frozen=True)
class ModelStatus:
    name: str
    file: str
    path: Path
    present: bool
    size: int | None
    license: str
    source: str | None
    imported: bool
    obtain: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    name: str
    path: Path
    present: bool
    ok: bool
    expected_sha256: str | None
    actual_sha256: str | None


class ModelStore:
    def __init__(
        self,
        root: str | Path | None = None,
        registry: Mapping[str, RegistryEntry] | None = None,
        mirror: str | None = None,
        timeout_s: float = 30.0,
        progress_stream: TextIO | None = sys.stderr,
        bundled_root: Path | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_store_dir()
        self.bundled_root = bundled_root if bundled_root is not None else bundled_models_dir()
        self._builtin = dict(default_registry() if registry is None else registry)
        self.mirror = mirror
        self.timeout_s = timeout_s
        self.progress_stream = progress_stream

    # --- lookup -------------------------------------------------------------------------------

    def _imported(self) -> dict[str, RegistryEntry]:
        out: dict[str, RegistryEntry] = {}
        folder = self.root / "manifests"
        if folder.is_dir():
            for p in sorted(folder.glob("*.json")):
                with contextlib.suppress(ValueError):  # a broken sidecar hides one model only
                    out[p.stem] = RegistryEntry.model_validate_json(p.read_text("utf-8"))
        return out

    def entries(self) -> dict[str, RegistryEntry]:
        return {**self._builtin, **self._imported()}

    def names(self) -> list[str]:
        return sorted(self.entries())

    def entry(self, name: str) -> RegistryEntry:
        entries = self.entries()
        if name not in entries:
            raise UnknownModelError(name, list(entries))
        return entries[name]

    def _path_of(self, entry: RegistryEntry) -> Path:
        """Bundled models live in the repo; the rest in the store under their file name."""
        if entry.bundled is not None:
            return self.bundled_root / entry.bundled
        return self.root / entry.file

    def path(self, name: str) -> Path:
        return self._path_of(self.entry(name))

    def source(self, name: str) -> str | None:
        """Where ``pull`` fetches ``name`` from: the mirror if set, else the pinned URL
        (``bundled:<path>`` for a model shipped in the repo: never fetched)."""
        entry = self.entry(name)
        if entry.bundled is not None:
            return f"bundled:{entry.bundled}"
        if self.mirror:
            return mirror_url(self.mirror, entry.file)
        return entry.manifest.source_url

    def status(self, name: str) -> ModelStatus:
        entry = self.entry(name)
        path = self._path_of(entry)
        present = path.is_file()
        return ModelStatus(
            name=name,
            file=entry.file,
            path=path,
            present=present,
            size=path.stat().st_size if present else None,
            license=entry.manifest.license,
            source=self.source(name),
            imported=name not in self._builtin,
            obtain=entry.obtain,
        )

    # --- verify, pull, ensure -----------------------------------------------------------------

    def verify(self, name: str) -> VerifyResult:
        entry = self.entry(name)
        path = self._path_of(entry)
        expected = entry.manifest.sha256
        if not path.is_file():
            return VerifyResult(name, path, False, False, expected, None)
        actual = sha256_file(path)
        ok = expected is None or actual == expected
        return VerifyResult(name, path, True, ok, expected, actual)

    def _progress(self) -> ProgressFactory | None:
        stream = self.progress_stream
        if stream is None:
            return None
        return lambda label, total: ProgressPrinter(f"pull {label}", total, stream)

    def pull(self, name: str, force: bool = False) -> PullResult:
        """Make ``name`` present and verified; a verified file already there is kept (no I/O)."""
        entry = self.entry(name)
        if entry.bundled is not None:
            return self._check_bundled(name)
        dest = self.root / entry.file
        if not force and dest.is_file() and self.verify(name).ok:
            return PullResult(name, dest, "present")
        sha = entry.manifest.sha256
        source = self.source(name)
        if source is None:
            make = f"make it with `{entry.obtain}`, then " if entry.obtain else ""
            raise FetchFailedError(
                name,
                "(no pinned URL)",
                f"upstream publishes no direct download; set {MIRROR_ENV} to a folder or URL "
                f"holding {entry.file}, or {make}run `citywatch models import FILE --name {name}`",
            )
        if sha is None:
            raise ModelError(f"model {name} has no sha256 in its manifest: refusing to download")
        try:
            fetch(
                source,
                dest,
                name=name,
                sha256=sha,
                size=entry.manifest.size,
                timeout_s=self.timeout_s,
                progress=self._progress(),
            )
        except FetchFailedError as err:
            fix = self._fix(entry, name)
            raise FetchFailedError(name, err.source, f"{err.reason}; {fix}") from err
        return PullResult(name, dest, "downloaded")

    def _fix(self, entry: RegistryEntry, name: str) -> str:
        """What to do when a fetch fails (offline, a mirror without the file)."""
        if self.mirror:
            return f"check that {self.mirror} holds {entry.file}"
        return (f"offline? set {MIRROR_ENV} to a folder or URL holding {entry.file}, "
                f"or run `citywatch models import FILE --name {name}`")  # fmt: skip

    def _check_bundled(self, name: str) -> PullResult:
        """A bundled model is there and matches its sha256, or it is an error (nothing to pull:
        a changed or missing file in the repo is a broken checkout, not a cache miss)."""
        result = self.verify(name)
        if not result.present:
            raise FetchFailedError(name, str(result.path), "bundled model missing from the repo")
        if not result.ok:
            expected, actual = result.expected_sha256 or "", result.actual_sha256 or ""
            raise ChecksumMismatchError(name, expected, actual)
        return PullResult(name, result.path, "present")

    def ensure(self, name: str, pull_missing: bool = True) -> tuple[Path, ModelManifest]:
        """Path and manifest of a present, verified ``name``, pulling it when allowed."""
        entry = self.entry(name)
        if entry.bundled is not None:
            return self._check_bundled(name).path, entry.manifest
        path = self.root / entry.file
        if pull_missing:
            self.pull(name)
            return path, entry.manifest
        result = self.verify(name)
        if not result.present:
            raise FetchFailedError(name, str(path), "not in the store; run `citywatch models pull`")
        if not result.ok:
            expected, actual = result.expected_sha256 or "", result.actual_sha256 or ""
            raise ChecksumMismatchError(name, expected, actual)
        return path, entry.manifest

    # --- by URL (swap) and import -------------------------------------------------------------

    def fetch_url(self, url: str, sha256: str, name: str, size: int | None = None) -> Path:
        """A model given by URL, kept content-addressed under ``blobs/``; no-op when present."""
        dest = self.root / "blobs" / f"{sha256}.onnx"
        if dest.is_file() and sha256_file(dest) == sha256:
            return dest
        return fetch(url, dest, name=name, sha256=sha256, size=size, timeout_s=self.timeout_s)

    def import_file(
        self, src: str | Path, name: str, manifest: ModelManifest | None = None
    ) -> PullResult:
        """Copy a local file into the store under ``name``.

        A registry name keeps its pinned manifest and must have the pinned bytes. A new name
        needs ``manifest``; its sha256 and size are set from the file (a manifest that states a
        different sha256 is refused).
        """
        src = Path(src)
        if not src.is_file():
            raise FetchFailedError(name, str(src), "no such file")
        actual = sha256_file(src)
        size = src.stat().st_size
        entries = self.entries()
        if name in self._builtin:
            entry = self._builtin[name]
            if entry.bundled is not None:
                raise ModelError(f"{name} is bundled with citywatch ({entry.bundled}): nothing to "
                                 "import; import the file under another name to swap to it")
            if manifest is not None:
                raise ModelError(f"{name} is a pinned registry model: its manifest is fixed")
        elif manifest is not None:
            if manifest.name != name:
                raise ModelError(f"manifest is for {manifest.name!r}, not {name!r}")
            entry = RegistryEntry(
                file=f"{name}.onnx",
                manifest=manifest.model_copy(update={"sha256": manifest.sha256 or actual}),
            )
        elif name in entries:
            entry = entries[name]
        else:
            raise ModelError(
                f"{name} is not a registry model: give its manifest (--manifest FILE.json)"
            )
        expected = entry.manifest.sha256 or actual
        if actual != expected:
            raise ChecksumMismatchError(name, expected, actual, entry.manifest.size, size)
        if entry.manifest.size is None or name not in self._builtin:
            entry = entry.model_copy(
                update={"manifest": entry.manifest.model_copy(update={"size": size})}
            )
        dest = self.root / entry.file
        _install_copy(src, dest)
        if name not in self._builtin:
            _write_atomic(self.root / "manifests" / f"{name}.json", entry.model_dump_json(indent=2))
        return PullResult(name, dest, "downloaded")


def _install_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        Path(tmp).replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


def _write_atomic(dest: Path, text: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        Path(tmp).replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


def store_from_config(
    store_dir: str | None,
    mirror: str | None,
    timeout_s: float = 30.0,
    environ: Mapping[str, str] | None = None,
    progress_stream: TextIO | None = sys.stderr,
) -> ModelStore:
    """The env ``CITYWATCH_MODEL_MIRROR`` wins over the config's mirror (the offline switch)."""
    env = os.environ if environ is None else environ
    return ModelStore(
        root=Path(store_dir).expanduser() if store_dir else default_store_dir(env),
        mirror=env.get(MIRROR_ENV) or mirror,
        timeout_s=timeout_s,
        progress_stream=progress_stream,
    )
