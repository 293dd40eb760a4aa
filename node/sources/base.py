"""The ``FrameSource`` protocol and its one exception tree.

A source is synchronous and blocking: it is only ever driven by the capture thread
(``node.sources.capture``), never by the event loop.
"""

from __future__ import annotations

import re
from typing import Protocol

from node.frame import Image


class SourceError(Exception):
    """Root of every source failure. ``source`` is the (credential-free) source description."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class SourceUnavailable(SourceError):  # noqa: N818 (names fixed by the contract)
    """The source cannot be reached now (missing file, refused stream, unplugged camera).

    Transient: the capture retries with backoff.
    """


class SourceCorrupt(SourceError):  # noqa: N818
    """The source exists but cannot be decoded (garbage bytes, unsupported codec)."""


class SourceEnded(SourceError):  # noqa: N818
    """A finite source (file, folder) has no more frames."""


class FrameSource(Protocol):
    """One opened camera, stream, file or folder.

    ``finite``: the source can end (file, folder), so ``loop`` applies to it.
    ``fps``: native rate to pace at in realtime mode (None: not known or a live source that
    paces itself).
    """

    description: str
    finite: bool

    @property
    def fps(self) -> float | None: ...

    def open(self) -> None:
        """Open the source; raise ``SourceUnavailable`` or ``SourceCorrupt``."""

    def read(self) -> Image:
        """Return the next BGR frame; raise ``SourceEnded``, ``SourceUnavailable`` or
        ``SourceCorrupt``."""

    def close(self) -> None:
        """Release the device or file. Safe to call twice or after a failed open."""


_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact(source: str) -> str:
    """Hide ``user:password@`` in URLs: descriptions end up in logs and MQTT status messages."""
    return _CREDENTIALS.sub(r"\g<scheme>***@", source)
