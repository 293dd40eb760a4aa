"""Model errors: one root, one subclass per cause, the facts on attributes.

The swap command maps each subclass to its own ``ErrorCode``; the CLI prints ``str(err)``, which
is written to be one clear line.
"""

from __future__ import annotations


class ModelError(Exception):
    """Root of every model runtime, registry and store error."""


class UnknownModelError(ModelError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown model {name!r}; known: {', '.join(sorted(known)) or '(none)'}")
        self.name = name
        self.known = known


class FetchFailedError(ModelError):
    """The file could not be obtained (HTTP error, unreachable host, truncated transfer)."""

    def __init__(self, name: str, source: str, reason: str) -> None:
        super().__init__(f"cannot fetch {name} from {source}: {reason}")
        self.name = name
        self.source = source
        self.reason = reason


class ChecksumMismatchError(ModelError):
    """The bytes are not the pinned ones (sha256 or size differ)."""

    def __init__(
        self,
        name: str,
        expected_sha256: str,
        actual_sha256: str,
        expected_size: int | None = None,
        actual_size: int | None = None,
    ) -> None:
        detail = f"sha256 {actual_sha256[:16]}… != expected {expected_sha256[:16]}…"
        if expected_size is not None and actual_size is not None and expected_size != actual_size:
            detail = f"size {actual_size} B != expected {expected_size} B ({detail})"
        super().__init__(f"checksum mismatch for {name}: {detail}")
        self.name = name
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        self.expected_size = expected_size
        self.actual_size = actual_size


class ModelLoadError(ModelError):
    """ONNX Runtime refused the file (corrupt, unsupported op) or the warm-up run failed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot load model {path}: {reason}")
        self.path = path
        self.reason = reason


class ManifestMismatchError(ModelError):
    """The model's real inputs/outputs differ from what its manifest declares."""

    def __init__(self, name: str, problems: list[str]) -> None:
        super().__init__(f"model {name} does not match its manifest: {'; '.join(problems)}")
        self.name = name
        self.problems = problems


class ProviderUnavailableError(ModelError):
    def __init__(self, requested: list[str], available: list[str]) -> None:
        super().__init__(
            f"execution provider(s) {requested} not available; this build offers {available}"
        )
        self.requested = requested
        self.available = available


class InvalidFeedsError(ModelError):
    """``run`` got inputs that do not fit the manifest (missing name, wrong dtype or rank)."""

    def __init__(self, name: str, problems: list[str]) -> None:
        super().__init__(f"bad inputs for {name}: {'; '.join(problems)}")
        self.name = name
        self.problems = problems


class NoPreviousModelError(ModelError):
    def __init__(self, slot: str) -> None:
        super().__init__(f"model slot {slot!r} has no previous model to roll back to")
        self.slot = slot


class UnknownSlotError(ModelError):
    def __init__(self, slot: str, known: list[str]) -> None:
        loaded = ", ".join(sorted(known)) or "(none)"
        super().__init__(f"no loaded model slot {slot!r}; loaded: {loaded}")
        self.slot = slot
        self.known = known
