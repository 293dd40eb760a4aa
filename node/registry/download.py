"""Fetch one URL into a directory: temp file, sha256 and size check, then ``os.replace``.

A failed or interrupted transfer never leaves a file under the final name: bytes go to a unique
``.part`` file in the destination directory (same file system, so the rename is atomic), which
is deleted on any error.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TextIO

from node.inference.errors import ChecksumMismatchError, FetchFailedError

CHUNK = 1 << 16
ALLOWED_SCHEMES = ("http", "https", "file")


class ProgressPrinter:
    """A one-line progress bar on a text stream; redrawn in place on terminals."""

    def __init__(self, label: str, total: int | None, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.done = 0
        self._tty = stream.isatty()
        self._last_pct = 0
        self._last_draw = 0.0

    def update(self, n: int) -> None:
        self.done += n
        pct = int(100 * self.done / self.total) if self.total else -1
        now = time.monotonic()
        # Terminals: redraw at most 10x a second; logs: one line per 25%.
        if self._tty and now - self._last_draw >= 0.1:
            self._draw("\r")
            self._last_draw = now
        elif not self._tty and 0 <= pct < 100 and pct // 25 > self._last_pct // 25:
            self._draw("", "\n")
        self._last_pct = max(pct, self._last_pct)

    def close(self) -> None:
        self._draw("\r" if self._tty else "", "\n")

    def _draw(self, head: str, tail: str = "") -> None:
        mb = self.done / 1e6
        if self.total:
            width = 24
            filled = int(width * min(1.0, self.done / self.total))
            bar = "#" * filled + "." * (width - filled)
            text = f"{self.label} [{bar}] {100 * self.done / self.total:5.1f}% "
            text += f"{mb:.1f}/{self.total / 1e6:.1f} MB"
        else:
            text = f"{self.label} {mb:.1f} MB"
        self.stream.write(head + text + tail)
        self.stream.flush()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


ProgressFactory = Callable[[str, int | None], ProgressPrinter | None]


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"unreachable ({err.reason})"
    if isinstance(err, http.client.IncompleteRead):
        return f"truncated transfer: got {len(err.partial)} more bytes, {err.expected} missing"
    if isinstance(err, TimeoutError):
        return "timed out"
    return f"{type(err).__name__}: {err}"


def fetch(
    url: str,
    dest: Path,
    *,
    name: str,
    sha256: str,
    size: int | None = None,
    timeout_s: float = 30.0,
    progress: ProgressFactory | None = None,
) -> Path:
    """Download ``url`` to ``dest`` if its bytes have ``sha256`` (and ``size``); else raise.

    Raises ``FetchFailedError`` (HTTP error, unreachable, truncated, timeout) or
    ``ChecksumMismatchError``; in both cases ``dest`` is untouched.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ALLOWED_SCHEMES:
        reason = f"unsupported URL scheme {scheme!r} (use http, https or file)"
        raise FetchFailedError(name, url, reason)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got, digest = _stream(url, out, name, timeout_s, progress)
        if digest != sha256 or (size is not None and got != size):
            raise ChecksumMismatchError(name, sha256, digest, size, got)
        Path(tmp).replace(dest)
        return dest
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _stream(
    url: str,
    out: BinaryIO,
    name: str,
    timeout_s: float,
    progress: ProgressFactory | None,
) -> tuple[int, str]:
    h = hashlib.sha256()
    got = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            length_header = resp.headers.get("Content-Length")
            expected = int(length_header) if length_header and length_header.isdigit() else None
            bar = progress(name, expected) if progress else None
            while chunk := resp.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
                got += len(chunk)
                if bar:
                    bar.update(len(chunk))
            if bar:
                bar.close()
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise FetchFailedError(name, url, _reason(err)) from err
    if expected is not None and got < expected:
        # The server announced more than it sent and closed: a truncated transfer.
        raise FetchFailedError(name, url, f"truncated transfer: got {got} of {expected} bytes")
    return got, h.hexdigest()
