"""Zone counters on the wire and on disk.

``ZoneStatePublisher`` publishes each camera's counters (``node.zones.CounterStore``) retained on
``state/zones/<camera>`` when they change (at most once per ``interval_s``), and keeps the in/out
counts in a JSON file under the data folder, so they survive a restart (written atomically, at
most once per ``save_every_s``, and on stop). ``register_zone_commands`` adds ``reset_counts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from node.clock import Clock
from node.commands.dispatcher import CommandContext, CommandDispatcher
from node.commands.errors import CommandError
from node.mqtt.topics import zone_counts_suffix
from node.zones import CounterStore
from node.zones.counts import Kind
from schemas.commands import ErrorCode, ResetCountsParams
from schemas.config import NodeConfig

log = logging.getLogger(__name__)

COUNTS_FILE = "zone_counts.json"
SetState = Callable[[str, str], Awaitable[None]]


def counter_store(config: NodeConfig, clock: Clock) -> CounterStore | None:
    """The counters of every camera that draws lines or zones, when the objects analytic (which
    feeds them) is enabled; None otherwise."""
    if not config.analytics.objects.enabled:
        return None
    layout = {
        cam.name: ([line.name for line in cam.lines], sorted(cam.zones))
        for cam in config.cameras
        if cam.lines or cam.zones
    }
    return CounterStore(layout, clock.time) if layout else None


async def open_zone_state(
    store: CounterStore | None,
    set_state: SetState,
    data_dir: Path,
    clock: Clock,
    dispatcher: CommandDispatcher | None,
) -> ZoneStatePublisher | None:
    """Restore the counts of the last run, register their retained state (published on every
    connect) and ``reset_counts``. Call before the link connects and the cameras start."""
    if store is None:
        return None
    publisher = ZoneStatePublisher(store, set_state, CountsFile(data_dir / COUNTS_FILE), clock)
    publisher.restore()
    await publisher.publish()
    if dispatcher is not None:
        register_zone_commands(dispatcher, publisher)
    return publisher


class CountsFile:
    """The persisted counts: written to a temporary file then renamed over the old one, so a
    crash mid-write leaves the previous counts, never half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        """The saved counts, or None when there are none. An unreadable file is set aside
        (``.bad``) and reported: the node starts from zero rather than not at all."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            bad = self.path.with_suffix(".bad")
            log.error("zone counts: %s unreadable (%s); moved to %s, counting from zero",
                      self.path, err, bad)  # fmt: skip
            with contextlib.suppress(OSError):
                self.path.replace(bad)
            return None
        return data if isinstance(data, dict) else None

    def save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)


class ZoneStatePublisher:
    def __init__(
        self,
        store: CounterStore,
        set_state: SetState,
        file: CountsFile,
        clock: Clock,
        *,
        interval_s: float = 1.0,
        save_every_s: float = 10.0,
    ) -> None:
        self.store = store
        self._set_state = set_state
        self._file = file
        self._clock = clock
        self._interval_s = interval_s
        self._save_every_s = save_every_s
        self._saved_version = store.version
        self._saved_at = clock.monotonic()
        self._lock = asyncio.Lock()  # one publish/save at a time (loop, reset command, stop)

    def restore(self) -> None:
        """Take the counts saved by the previous run (call before the cameras start)."""
        data = self._file.load()
        if data is None:
            return
        try:
            self.store.load(data)
        except ValueError as err:
            log.error("zone counts: %s (%s); counting from zero", err, self._file.path)
        self._saved_version = self.store.version

    async def publish(self, *, save: bool = False) -> None:
        """Publish the cameras whose counters changed; save the counts if they changed and it
        is time (``save``: now)."""
        async with self._lock:
            for camera in self.store.take_dirty():
                await self._set_state(
                    zone_counts_suffix(camera), self.store.state(camera).model_dump_json()
                )
            due = self._clock.monotonic() - self._saved_at >= self._save_every_s
            if self.store.version != self._saved_version and (save or due):
                version, data = self.store.version, self.store.dump()
                try:
                    await asyncio.to_thread(self._file.save, data)
                except OSError as err:
                    log.error("zone counts: cannot save %s: %s", self._file.path, err)
                else:
                    self._saved_version = version
                self._saved_at = self._clock.monotonic()

    async def run(self) -> None:
        """Publish changes every ``interval_s`` until cancelled; then a last publish and save
        (the node cancels its tasks once the cameras have stopped, the link still up)."""
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                await self.publish()
        finally:
            await self.publish(save=True)

    async def reset(self, camera: str | None, kind: Kind | None, name: str | None) -> list[str]:
        """``reset_counts``: zero, publish and save at once. KeyError for unknown names."""
        done = self.store.reset(camera, kind, name)
        await self.publish(save=True)
        return done


def register_zone_commands(dispatcher: CommandDispatcher, publisher: ZoneStatePublisher) -> None:
    async def reset_counts(p: ResetCountsParams, ctx: CommandContext) -> dict[str, Any]:
        kind: Kind | None = "line" if p.line is not None else "zone" if p.zone else None
        try:
            done = await publisher.reset(p.camera, kind, p.line or p.zone)
        except KeyError as err:
            raise CommandError(ErrorCode.NOT_FOUND, str(err.args[0])) from None
        return {"reset": done}

    dispatcher.register("reset_counts", ResetCountsParams, reset_counts)
