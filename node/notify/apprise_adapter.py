"""The one module that imports Apprise (on first use, so importing the node costs nothing
without notification targets): validate, mask and send one URL.

Apprise is synchronous (``requests``, ``smtplib``), so ``AppriseSender.send`` blocks and runs in
the notification worker's threads, never on the event loop. Apprise reports why a send failed
only through its logger; ``_ThreadCapture`` collects the records of the calling thread, so the
reason of one send is not mixed with another's running in parallel. Every message that leaves
this module is scrubbed of the URL's secret parts.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from apprise.plugins import NotifyBase

_SCHEME = re.compile(r"^\s*(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://")
_TOKEN = re.compile(r"[^/:@?&=#+,\s]+")
MASK = "****"


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes
    mimetype: str = "image/jpeg"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


class _ThreadCapture(logging.Handler):
    """Keeps Apprise's WARNING+ records per capturing thread."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        sink: list[str] | None = getattr(self._local, "sink", None)
        if sink is not None:
            sink.append(record.getMessage())

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        sink: list[str] = []
        self._local.sink = sink
        try:
            yield sink
        finally:
            self._local.sink = None


_CAPTURE = _ThreadCapture()
_APPRISE_LOG = logging.getLogger("apprise")  # apprise.logger.LOGGER_NAME
_APPRISE_LOG.addHandler(_CAPTURE)
if _APPRISE_LOG.level == logging.NOTSET:
    # Its warnings carry the reason of a failed send: they must exist even when the node logs
    # at ERROR only (and its INFO chatter, one line per message sent, stays out of the log).
    _APPRISE_LOG.setLevel(logging.WARNING)


def scheme_of(url: str) -> str | None:
    m = _SCHEME.match(url)
    return m.group("scheme").lower() if m else None


def _instantiate(url: str) -> tuple[NotifyBase | None, str | None]:
    import apprise

    with _CAPTURE.capture() as said:
        try:
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=False)
        except Exception as err:  # the plugin's constructor refused an argument
            return None, str(err) or type(err).__name__
    if plugin is None:
        return None, "; ".join(dict.fromkeys(said)) or "Apprise cannot parse it"
    return plugin, None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used: no scheme, an unknown service, or malformed (Apprise's reason,
    with the URL's secrets masked). None if Apprise accepts it."""
    scheme = scheme_of(url)
    if scheme is None:
        return "not a URL: an Apprise URL starts with a service scheme, e.g. `mailtos://`"
    plugin, why = _instantiate(url.strip())
    if plugin is not None:
        port = getattr(plugin, "port", None)
        if isinstance(port, int) and not 0 < port < 65536:
            return f"malformed {scheme}:// URL: port {port} out of range 1-65535"
        return None
    if not _known(scheme):
        return f"unknown service scheme `{scheme}://` (see the Apprise wiki for services)"
    return f"malformed {scheme}:// URL: {Scrubber([url]).scrub(why or '')}"


def _known(scheme: str) -> bool:
    from apprise.manager_plugins import NotificationManager

    return scheme in NotificationManager()  # type: ignore[no-untyped-call]


def mask_url(url: str) -> str:
    """A loggable form: Apprise's privacy URL, or only the scheme when it cannot parse."""
    plugin, _ = _instantiate(url.strip())
    if plugin is not None:
        # Without the query: Apprise adds its defaults there, and logs need the service only.
        return str(plugin.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]
    return f"{scheme_of(url) or '?'}://{MASK}"


class Scrubber:
    """Replaces the secret parts of URLs (what Apprise's privacy form hides) in any text."""

    def __init__(self, urls: Sequence[str]) -> None:
        secrets: set[str] = set()
        for url in urls:
            parts = urlsplit(url.strip())
            shown = set(_TOKEN.findall(mask_url(url)))
            secrets |= {t for t in _TOKEN.findall(url) if t not in shown and len(t) >= 3}
            if parts.password:
                secrets.add(parts.password)
            if url.strip():
                secrets.add(url.strip())
        # Longest first, so a token inside a longer one never leaves the rest visible.
        self._secrets = sorted(secrets, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, MASK)
        return text


class AppriseSender:
    """Sends through Apprise; one plugin instance per URL, reused, so Apprise's pacing of each
    service holds across messages (never two sends at once to the same URL: the worker
    serialises each target)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plugins: dict[str, NotifyBase] = {}

    def _plugin(self, url: str) -> tuple[NotifyBase | None, str | None]:
        with self._lock:
            plugin = self._plugins.get(url)
        if plugin is not None:
            return plugin, None
        plugin, why = _instantiate(url)
        if plugin is not None:
            with self._lock:
                self._plugins[url] = plugin
        return plugin, why

    def send(
        self,
        url: str,
        title: str,
        body: str,
        attachments: Sequence[Attachment] = (),
        min_interval_s: float | None = None,
    ) -> SendResult:
        """Blocking. ``ok`` only when the service accepted the message. Apprise spaces the
        messages of one plugin instance by ``request_rate_per_sec`` (seconds, despite the name:
        5.5 for most services); ``min_interval_s`` replaces that pace."""
        scrubber = Scrubber([url])
        plugin, why = self._plugin(url.strip())
        if plugin is None:
            return SendResult(False, scrubber.scrub(f"unusable URL: {why}"))
        if min_interval_s is not None:
            plugin.request_rate_per_sec = min_interval_s
        attach = None
        if attachments and plugin.attachment_support:
            from apprise import AppriseAttachment
            from apprise.attachment.memory import AttachMemory

            attach = AppriseAttachment()
            for a in attachments:
                item = AttachMemory(  # type: ignore[no-untyped-call]
                    content=a.content, name=a.name, mimetype=a.mimetype
                )
                attach.add(item)
        with _CAPTURE.capture() as said:
            try:
                ok = bool(plugin.notify(body=body, title=title, attach=attach))
            except Exception as err:  # a plugin bug must not kill the worker thread
                return SendResult(False, scrubber.scrub(f"{type(err).__name__}: {err}"))
        if ok:
            return SendResult(True)
        reason = "; ".join(dict.fromkeys(said)) or "the service refused it (no reason given)"
        return SendResult(False, scrubber.scrub(reason))
